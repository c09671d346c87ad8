"""Datasets of the zero-shot protocol that mmseg lacks: VOC20, COCO-Object, image folders."""
import os.path as osp

import cv2
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def mmseg_scope():
    import clipdense  # noqa: F401  (registration)
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')


def _load(pipeline_input, transforms):
    from mmengine.dataset import Compose
    return Compose(transforms)(pipeline_input)


def test_voc20_ignores_background_and_shifts_labels(tmp_path):
    from clipdense.datasets import PascalVOC20Dataset
    (tmp_path / 'JPEGImages').mkdir()
    (tmp_path / 'SegmentationClass').mkdir()
    cv2.imwrite(str(tmp_path / 'JPEGImages' / 'a.jpg'), np.zeros((4, 4, 3), np.uint8))
    label = np.array([[0, 1, 20, 255]] * 4, np.uint8)
    cv2.imwrite(str(tmp_path / 'SegmentationClass' / 'a.png'), label)
    (tmp_path / 'val.txt').write_text('a\n')
    dataset = PascalVOC20Dataset(
        ann_file='val.txt', data_root=str(tmp_path),
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        pipeline=[dict(type='LoadAnnotations')])
    assert len(dataset.metainfo['classes']) == 20 and dataset.metainfo['classes'][0] == 'aeroplane'
    assert dataset[0]['gt_seg_map'][0].tolist() == [255, 0, 19, 255]
    with pytest.raises(ValueError, match='keep reduce_zero_label=True'):
        PascalVOC20Dataset(ann_file='val.txt', data_root=str(tmp_path), reduce_zero_label=False)


def test_coco_object_converter_matches_toy_semantic_maps(toy_coco_root, tmp_path):
    """Toy things (ball, box, tent, kite; category ids 1, 3, 5, 7) become labels 1..4 and
    everything else background, as in the toy semantic maps (ADE convention: things 3..6)."""
    from tools.dataset_converters.coco_object import main
    main(['--ann-file', osp.join(toy_coco_root, 'annotations', 'instances_val.json'),
          '--out-dir', str(tmp_path)])
    converted = cv2.imread(str(tmp_path / 'toy_val_000000_instanceTrainIds.png'),
                           cv2.IMREAD_UNCHANGED)
    semantic = cv2.imread(osp.join(toy_coco_root, 'semantic', 'val', 'toy_val_000000.png'),
                          cv2.IMREAD_UNCHANGED)
    expected = np.where(semantic >= 3, semantic - 2, 0).astype(np.uint8)
    labelled = semantic != 0  # 0 marks rings around things, where occlusion order differs
    assert converted.shape == semantic.shape and converted.dtype == np.uint8
    np.testing.assert_array_equal(converted[labelled], expected[labelled])
    assert set(np.unique(converted)) - {0} and set(np.unique(converted)) <= {0, 1, 2, 3, 4}
    assert len(list(tmp_path.glob('*_instanceTrainIds.png'))) == 16


def test_coco_object_from_coco_stuff_maps_as_the_reference(tmp_path):
    """The reference's route: COCO-Stuff train ids 0..79 (things) -> 1..80; stuff (80..170) and
    unlabelled (255) -> background 0."""
    from tools.dataset_converters.coco_object import main
    stuff = np.array([[0, 1, 79, 80], [170, 255, 5, 0]], np.uint8)
    (tmp_path / 'stuff').mkdir()
    cv2.imwrite(str(tmp_path / 'stuff' / '000000000139_labelTrainIds.png'), stuff)
    cv2.imwrite(str(tmp_path / 'stuff' / '000000000139.png'), stuff)  # raw maps are skipped
    main(['--stuff-maps', str(tmp_path / 'stuff'), '--out-dir', str(tmp_path / 'out')])
    written = sorted(p.name for p in (tmp_path / 'out').iterdir())
    assert written == ['000000000139_instanceTrainIds.png']
    converted = cv2.imread(str(tmp_path / 'out' / written[0]), cv2.IMREAD_UNCHANGED)
    assert converted.dtype == np.uint8
    assert converted.tolist() == [[1, 2, 80, 0], [0, 0, 6, 1]]
    with pytest.raises(FileNotFoundError, match='labelTrainIds'):
        main(['--stuff-maps', str(tmp_path / 'out'), '--out-dir', str(tmp_path / 'x')])


def test_coco_object_dataset_reads_converted_maps(toy_coco_root, tmp_path):
    from clipdense.datasets import COCO_OBJECT_CLASSES, COCOObjectDataset
    from tools.dataset_converters.coco_object import convert
    convert(osp.join(toy_coco_root, 'annotations', 'instances_val.json'), str(tmp_path / 'ann'))
    dataset = COCOObjectDataset(data_root='', data_prefix=dict(
        img_path=osp.join(toy_coco_root, 'val'), seg_map_path=str(tmp_path / 'ann')),
        pipeline=[dict(type='LoadAnnotations')])
    assert len(dataset) == 16 and len(COCO_OBJECT_CLASSES) == 81
    assert COCO_OBJECT_CLASSES[:3] == ('background', 'person', 'bicycle')
    assert dataset[0]['gt_seg_map'].max() <= 4


def test_unlabeled_image_folder_samples_with_a_seed(tmp_path):
    from clipdense.datasets import UnlabeledImageFolder
    for cls in ('n01', 'n02'):
        (tmp_path / cls).mkdir()
        for i in range(3):
            cv2.imwrite(str(tmp_path / cls / f'{i}.JPEG'), np.full((8, 8, 3), 100, np.uint8))
    (tmp_path / 'n01' / 'notes.txt').write_text('not an image')
    everything = UnlabeledImageFolder(data_root=str(tmp_path))
    assert len(everything) == 6
    sample = UnlabeledImageFolder(data_root=str(tmp_path), num_samples=4, seed=1)
    again = UnlabeledImageFolder(data_root=str(tmp_path), num_samples=4, seed=1)
    assert len(sample) == 4 and [d['img_path'] for d in sample.data_list] == \
        [d['img_path'] for d in again.data_list]
    with pytest.raises(ValueError, match='holds only 6 images'):
        UnlabeledImageFolder(data_root=str(tmp_path), num_samples=7)
    with pytest.raises(FileNotFoundError, match='image folder not found'):
        UnlabeledImageFolder(data_root=str(tmp_path / 'absent'))


def test_brightness_jitter_scales_within_range():
    np.random.seed(0)
    image = np.full((4, 4, 3), 100, np.uint8)
    values = [_load(dict(img=image.copy()), [dict(type='BrightnessJitter', delta=0.5)])['img']
              for _ in range(20)]
    assert all(50 <= v.min() == v.max() <= 150 for v in values)
    assert len({int(v[0, 0, 0]) for v in values}) > 5
