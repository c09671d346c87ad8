"""ADE-847 and PC-459: converters from the official releases' layouts, dataset classes, 16-bit
labels; external mask proposals (SAM-style RLE JSON). All on small generated files."""
import importlib.util
import json
import os

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT


def _tool(name):
    path = os.path.join(ROOT, 'tools', 'dataset_converters', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'converter_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seg_png(class_ids: np.ndarray) -> np.ndarray:
    """ADE20K's _seg.png encoding of object classes: R = (id // 256) * 10, G = id % 256."""
    rgb = np.zeros(class_ids.shape + (3, ), np.uint8)
    rgb[..., 0] = (class_ids // 256) * 10
    rgb[..., 1] = class_ids % 256
    rgb[..., 2] = 7  # instance ids live here; ignored
    return rgb


def _write_ade_release(root, name, class_ids, folder='validation/urban/street'):
    directory = os.path.join(root, 'images', 'ADE', folder)
    os.makedirs(directory, exist_ok=True)
    height, width = class_ids.shape
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(image).save(os.path.join(directory, name + '.jpg'))
    Image.fromarray(_seg_png(class_ids)).save(os.path.join(directory, name + '_seg.png'))


def test_ade847_converter_and_dataset(tmp_path):
    from clipdense.datasets.ade847 import ADE847_CATEGORIES, ADE847_CLASSES
    assert len(ADE847_CLASSES) == 847 and len({i for i, _ in ADE847_CATEGORIES}) == 847
    assert ADE847_CATEGORIES[0] == (2978, 'wall') and ADE847_CATEGORIES[-1][0] == 3148
    converter = _tool('ade847')
    root = str(tmp_path / 'ADE20K_2021_17_01')
    small = np.full((40, 60), 2978, np.int64)  # wall -> 0
    small[:10] = 3148  # adding machine -> 846
    small[10:20, :5] = 7  # an object class outside the 847 -> 65535
    small[30:, 50:] = 2420  # sky -> 2
    _write_ade_release(root, 'ADE_val_00000001', small)
    large = np.full((600, 800), 312, np.int64)  # building -> 1; short side 600 -> 512
    _write_ade_release(root, 'ADE_val_00000002', large, 'validation/indoor/x')
    _write_ade_release(root, 'ADE_train_00000001', small, 'training/urban/street')
    assert converter.convert(root) == 2
    labels = np.array(Image.open(os.path.join(
        root, 'annotations_detectron2', 'validation', 'ADE_val_00000001.tif')))
    assert labels.dtype == np.uint16 and labels.shape == (40, 60)
    assert labels[0, 0] == 846 and labels[15, 2] == 65535 and labels[35, 55] == 2
    assert labels[25, 30] == 0
    big = Image.open(os.path.join(root, 'images_detectron2', 'validation', 'ADE_val_00000002.jpg'))
    assert big.size == (683, 512)  # (W, H): round(800 / 600 * 512)
    assert not os.path.exists(os.path.join(root, 'images_detectron2', 'validation',
                                           'ADE_train_00000001.jpg'))
    assert converter.resized_shape(400, 300) == (400, 300)
    assert converter.split_of('ADE_frame_00000001.jpg') == 'training'

    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    import clipdense  # noqa: F401
    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(
        type='ADE20K847Dataset', data_root=root,
        data_prefix=dict(img_path='images_detectron2/validation',
                         seg_map_path='annotations_detectron2/validation'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadWideLabelAnnotations'),
                  dict(type='PackSegInputs')]))
    assert len(dataset) == 2 and len(dataset.metainfo['classes']) == 847
    gt = dataset[0]['data_samples'].gt_sem_seg.data
    assert gt.shape == (1, 40, 60) and gt.max().item() == 65535
    assert set(gt.unique().tolist()) == {0, 2, 846, 65535}


def test_ade847_converter_reports_a_missing_release(tmp_path):
    with pytest.raises(FileNotFoundError, match='ADE20K_2021_17_01'):
        _tool('ade847').convert(str(tmp_path))


def test_pascal_context459_converter_and_dataset(tmp_path):
    import scipy.io
    from clipdense.datasets.pascal_context459 import PASCAL_CONTEXT459_CLASSES
    assert len(PASCAL_CONTEXT459_CLASSES) == 459
    assert PASCAL_CONTEXT459_CLASSES[283] == 'person'
    converter = _tool('pascal_context459')
    root = tmp_path / 'VOC2010'
    (root / 'trainval').mkdir(parents=True)
    (root / 'JPEGImages').mkdir()
    ids = ['2008_000002', '2008_000003', '2008_000007']
    for index, image_id in enumerate(ids[:2]):
        label_map = np.full((30, 40), 284, np.uint16)  # 'person' (1-based in the release)
        label_map[:5] = 459
        label_map[5:8] = 1
        label_map[8, 0] = 0  # unlabelled, if present
        scipy.io.savemat(str(root / 'trainval' / f'{image_id}.mat'), dict(LabelMap=label_map))
        Image.fromarray(np.full((30, 40, 3), index * 50, np.uint8)).save(
            root / 'JPEGImages' / f'{image_id}.jpg')
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / 'JPEGImages' / '2009_000001.jpg')
    (root / 'pascalcontext_val.txt').write_text('\n'.join(ids) + '\n')
    assert converter.convert(str(root)) == 2  # the third id has no .mat file
    labels = np.array(Image.open(root / 'annotations_detectron2/pc459_val/2008_000002.tif'))
    assert labels.dtype == np.uint16
    assert labels[0, 0] == 458 and labels[6, 0] == 0 and labels[20, 0] == 283
    assert labels[8, 0] == 65535
    with pytest.raises(ValueError, match='label 460'):
        converter.label_map_459(np.full((2, 2), 460))

    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    import clipdense  # noqa: F401
    init_default_scope('mmseg')
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadWideLabelAnnotations'),
                dict(type='PackSegInputs')]
    dataset = DATASETS.build(dict(
        type='PascalContext459Dataset', data_root=str(root),
        data_prefix=dict(img_path='JPEGImages', seg_map_path='annotations_detectron2/pc459_val'),
        pipeline=pipeline))
    assert len(dataset) == 2  # one sample per label map, not per VOC2010 image
    gt = dataset[1]['data_samples'].gt_sem_seg.data
    assert set(gt.unique().tolist()) == {0, 283, 458, 65535}
    (root / 'val.txt').write_text('2008_000003\n')
    listed = DATASETS.build(dict(
        type='PascalContext459Dataset', data_root=str(root), ann_file='val.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='annotations_detectron2/pc459_val'),
        pipeline=pipeline))
    assert len(listed) == 1


def test_wide_labels_and_mmseg_rules_for_8_bit_maps(tmp_path):
    from mmseg.datasets.transforms import LoadAnnotations

    from clipdense.datasets.ovseg_transforms import LoadWideLabelAnnotations
    wide = str(tmp_path / 'x.tif')
    Image.fromarray(np.array([[1, 700, 65535]], np.uint16)).save(wide)
    results = LoadWideLabelAnnotations()(dict(seg_map_path=wide, seg_fields=[],
                                              reduce_zero_label=False))
    assert results['gt_seg_map'].dtype == np.uint16
    assert results['gt_seg_map'].tolist() == [[1, 700, 65535]]
    narrow = str(tmp_path / 'y.png')
    Image.fromarray(np.array([[0, 1, 150, 255], [2, 2, 2, 2]], np.uint8)).save(narrow)
    for reduce in (False, True):
        ours = LoadWideLabelAnnotations()(dict(seg_map_path=narrow, seg_fields=[],
                                               reduce_zero_label=reduce))['gt_seg_map']
        mmseg = LoadAnnotations()(dict(seg_map_path=narrow, seg_fields=[],
                                       reduce_zero_label=reduce))['gt_seg_map']
        assert ours.tolist() == mmseg.tolist()
    assert ours.tolist() == [[255, 0, 149, 255], [1, 1, 1, 1]]
    with pytest.raises(ValueError, match='differs from the dataset'):
        LoadWideLabelAnnotations(reduce_zero_label=True)(
            dict(seg_map_path=narrow, seg_fields=[], reduce_zero_label=False))


def _sam_records(masks):
    """Records as SAM's automatic mask generator writes them (output_mode='coco_rle')."""
    from clipdense.apis.visualize import encode_mask_rle
    records = []
    for index, mask in enumerate(masks):
        records.append(dict(segmentation=encode_mask_rle(mask), area=int(mask.sum()),
                            predicted_iou=0.9, bbox=[0, 0, 1, 1], stability_score=0.95,
                            point_coords=[[0, 0]], crop_box=[0, 0, *mask.shape[::-1]],
                            id=index))
    return records


def test_mask_proposals_from_sam_style_json(tmp_path):
    from clipdense.datasets.ovseg_transforms import (LoadMaskProposals, add_mask_proposals,
                                                     config_with_mask_proposals,
                                                     read_mask_proposals)
    masks = np.zeros((3, 12, 16), bool)
    masks[0, :4, :5] = masks[1, 3:, 8:] = True
    (tmp_path / 'img.json').write_text(json.dumps(_sam_records(masks)))
    assert np.array_equal(read_mask_proposals(str(tmp_path / 'img.json'), (12, 16)), masks)
    # uncompressed RLE in COCO-results style: column-major run lengths starting with zeros
    column_major = masks[1].T.reshape(-1).astype(int)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[-1, column_major, -1]) != 0))
    counts = ([0] if column_major[0] else []) + runs.tolist()
    (tmp_path / 'b.json').write_text(json.dumps(dict(annotations=[
        dict(segmentation=dict(size=[12, 16], counts=counts))])))
    assert np.array_equal(read_mask_proposals(str(tmp_path / 'b.json'))[0], masks[1])
    results = LoadMaskProposals(str(tmp_path))(dict(img_path='/x/img.jpg', ori_shape=(12, 16)))
    assert results['mask_proposals'].shape == (3, 12, 16)
    with pytest.raises(ValueError, match='differs from the image size'):
        read_mask_proposals(str(tmp_path / 'img.json'), (12, 17))
    with pytest.raises(FileNotFoundError, match='nothing.json'):
        read_mask_proposals(str(tmp_path / 'nothing.json'))
    (tmp_path / 'poly.json').write_text(json.dumps([dict(segmentation=[[0, 0, 1, 1, 2, 0]])]))
    with pytest.raises(ValueError, match='RLE'):
        read_mask_proposals(str(tmp_path / 'poly.json'))
    pipeline = add_mask_proposals([dict(type='LoadImageFromFile'), dict(type='Resize'),
                                   dict(type='PackSegInputs')], str(tmp_path))
    assert [step['type'] for step in pipeline] == ['LoadImageFromFile', 'LoadMaskProposals',
                                                   'Resize', 'PackSegInputs']
    assert pipeline[-1]['meta_keys'][-1] == 'mask_proposals'
    config = os.path.join(ROOT, 'configs/ovseg/ovseg_r18-tiny-vit-tiny_1xb8-600i_toy-ade-96x96.py')
    with pytest.raises(FileNotFoundError, match='other.jpg'):
        config_with_mask_proposals(config, str(tmp_path), ['a/img.jpg', 'a/other.jpg'])
    cfg = config_with_mask_proposals(config, str(tmp_path), ['a/img.jpg'])
    assert cfg.test_dataloader.dataset.pipeline[1]['type'] == 'LoadMaskProposals'
    maskclip = os.path.join(ROOT, 'configs/maskclip/maskclip_vit-b16_1xb1-zero-shot_voc-448x448.py')
    with pytest.raises(ValueError, match='OVSeg'):
        config_with_mask_proposals(maskclip, str(tmp_path), ['a/img.jpg'])
