"""Region-text pairs for OVSeg's CLIP adaptation: the JSON dataset, its pipeline, the GT
converter (semantic and panoptic), the caption-noun mining tool."""
import json
import os
import sys

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from tests.conftest import ROOT, TINY_VIT

sys.path.insert(0, os.path.join(ROOT, 'tools', 'dataset_converters'))


def _decode(rle):
    return mask_utils.decode(dict(size=rle['size'], counts=rle['counts'].encode())).astype(bool)


@pytest.fixture(scope='module')
def toy_pairs(toy_ade_root, tmp_path_factory):
    import ovseg_region_pairs
    out = str(tmp_path_factory.mktemp('pairs') / 'pairs_train.json')
    img_dir = os.path.join(toy_ade_root, 'images', 'training')
    ann_dir = os.path.join(toy_ade_root, 'annotations', 'training')
    ovseg_region_pairs.main(['semantic', '--img-dir', img_dir, '--ann-dir', ann_dir,
                             '--dataset', 'ToyADEDataset', '--reduce-zero-label', '--out', out])
    return out, img_dir, ann_dir


def test_semantic_converter_gives_one_pair_per_class_present(toy_pairs):
    from clipdense.datasets import TOY_CLASSES
    out, img_dir, ann_dir = toy_pairs
    with open(out) as f:
        data = json.load(f)
    assert data['classes'] == list(TOY_CLASSES) and len(data['images']) == 16
    images = {image['id']: image for image in data['images']}
    expected = 0
    for image in data['images']:
        label = cv2.imread(os.path.join(ann_dir, image['file_name'][:-4] + '.png'),
                           cv2.IMREAD_UNCHANGED)
        present = [v for v in np.unique(label) if v != 0]
        expected += len(present)
        pairs = [p for p in data['pairs'] if p['image_id'] == image['id']]
        assert [p['text'] for p in pairs] == [TOY_CLASSES[v - 1] for v in present]
        for pair, value in zip(pairs, present):
            mask = _decode(pair['mask'])
            assert np.array_equal(mask, label == value) and pair['area'] == mask.sum()
    assert len(data['pairs']) == expected
    assert all(os.path.isfile(os.path.join(img_dir, images[p['image_id']]['file_name']))
               for p in data['pairs'])


def test_dataset_and_pipeline_give_crops_masks_and_labels(toy_pairs):
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope
    from clipdense.datasets import RegionTextDataset
    from clipdense.models.heads.region_clip_classifier import (crop_masks_nearest,
                                                               mask_crop_boxes)
    from clipdense.ops import CLIP_MEAN, CLIP_STD, masked_crops
    out, img_dir, _ = toy_pairs
    init_default_scope('mmseg')
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadRegionMask'),
                dict(type='RegionCrop', size=64), dict(type='PackRegionTextInputs')]
    dataset = RegionTextDataset(ann_file=out, data_prefix=dict(img_path=img_dir),
                                pipeline=pipeline)
    assert dataset.metainfo['classes'][dataset[0]['data_samples'].gt_label] == \
        dataset[0]['data_samples'].text
    info = dataset.get_data_info(3)
    item = dataset[3]
    crop, sample = item['inputs'], item['data_samples']
    assert crop.shape == (3, 64, 64) and sample.region_mask.shape == (64, 64)
    image = torch.from_numpy(cv2.imread(info['img_path'])[..., ::-1].copy()).permute(2, 0, 1)
    mask = torch.from_numpy(_decode(info['mask_rle']))[None]
    boxes = mask_crop_boxes(mask)
    expected, _ = masked_crops(image, mask, 64, CLIP_MEAN, CLIP_STD, boxes=boxes.float())
    assert torch.equal(crop, expected[0])
    assert torch.equal(sample.region_mask, crop_masks_nearest(mask, boxes, 64)[0])
    assert sample.text == info['text'] and sample.gt_label == info['gt_label']
    # random sub-boxes stay inside the mask box and keep >= 90% of its area
    random_crop = Compose([dict(type='LoadImageFromFile'), dict(type='LoadRegionMask'),
                           dict(type='RegionCrop', size=64, scale=(0.9, 1.0))])
    np.random.seed(0)
    assert random_crop(dataset.get_data_info(3))['img'].shape == (3, 64, 64)


def test_bad_pair_files_raise_errors_naming_the_entry(tmp_path):
    from clipdense.datasets import RegionTextDataset
    from clipdense.apis.visualize import encode_mask_rle
    from clipdense.datasets.region_text import write_region_pairs
    mask = np.zeros((4, 5), bool)
    mask[1:3, 1:4] = True
    images = [dict(id=1, file_name='a.jpg', height=4, width=5)]
    good = dict(id=1, image_id=1, text='cat', area=6, mask=encode_mask_rle(mask))
    path = str(tmp_path / 'pairs.json')
    write_region_pairs(path, images, [good])
    assert RegionTextDataset(ann_file=path, lazy_init=False).metainfo['classes'] == ('cat', )
    for bad, message in [(dict(good, image_id=7), 'image_id 7'),
                         (dict(good, text=' '), 'empty text'),
                         (dict(good, mask=encode_mask_rle(np.zeros((3, 5), bool))),
                          r'mask size \[3, 5\]'),
                         ({k: v for k, v in good.items() if k != 'mask'}, 'lacks')]:
        with pytest.raises(ValueError, match=message):
            write_region_pairs(str(tmp_path / 'bad.json'), images, [good, bad])
        assert not os.path.exists(tmp_path / 'bad.json')
    write_region_pairs(path, images, [good], classes=['dog'])
    with pytest.raises(ValueError, match="'cat' is not in the vocabulary"):
        RegionTextDataset(ann_file=path)


def test_panoptic_converter(tmp_path):
    import ovseg_region_pairs
    img_dir, pan_dir = tmp_path / 'images', tmp_path / 'panoptic'
    img_dir.mkdir()
    pan_dir.mkdir()
    ids = np.zeros((6, 8), np.int64)
    ids[:3] = 1
    ids[3:, :4] = 2 + 256 * 3  # a segment id needing two bytes
    ids[3:, 4:] = 9
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)
    cv2.imwrite(str(pan_dir / 'a.png'), rgb[..., ::-1])
    cv2.imwrite(str(img_dir / 'a.jpg'), np.zeros((6, 8, 3), np.uint8))
    panoptic = dict(
        images=[dict(id=5, file_name='a.jpg', height=6, width=8)],
        categories=[dict(id=1, name='person', isthing=1), dict(id=184, name='sky', isthing=0)],
        annotations=[dict(image_id=5, file_name='a.png', segments_info=[
            dict(id=1, category_id=184, iscrowd=0), dict(id=2 + 256 * 3, category_id=1,
                                                         iscrowd=0),
            dict(id=9, category_id=1, iscrowd=1)])])
    json_path = tmp_path / 'panoptic.json'
    json_path.write_text(json.dumps(panoptic))
    out = tmp_path / 'pairs.json'
    args = ['panoptic', '--img-dir', str(img_dir), '--panoptic-json', str(json_path),
            '--panoptic-dir', str(pan_dir), '--out', str(out)]
    ovseg_region_pairs.main(args)
    data = json.loads(out.read_text())
    assert [p['text'] for p in data['pairs']] == ['sky', 'person', 'person']
    assert [p['area'] for p in data['pairs']] == [24, 12, 12]
    assert np.array_equal(_decode(data['pairs'][1]['mask']), ids == 2 + 256 * 3)
    ovseg_region_pairs.main(args + ['--skip-crowd', '--min-area', '13'])
    assert [p['text'] for p in json.loads(out.read_text())['pairs']] == ['sky']


def test_noun_extraction_by_vocabulary_match():
    from ovseg_mine_pairs import build_noun_matcher, extract_nouns
    vocabulary = [['person', 'man', 'men', 'people'], ['traffic light'], ['bus'], ['sky'],
                  ['box'], ['dog', 'puppy'], ['light']]
    matcher = build_noun_matcher(vocabulary)
    caption = ('Two men walk past traffic lights near a bus under a blue Sky, with boxes, '
               'puppies and a light.')
    assert extract_nouns(caption, matcher) == [0, 1, 2, 3, 4, 5, 6]
    assert extract_nouns('A dog chases another dog.', matcher) == [5]
    assert extract_nouns('nothing to see here', matcher) == []


def test_mining_assigns_each_noun_its_most_similar_proposal(toy_ade_root, tmp_path):
    import ovseg_mine_pairs
    from clipdense.models.heads import RegionCLIPClassifier
    img_dir = os.path.join(toy_ade_root, 'images', 'training')
    ann_dir = os.path.join(toy_ade_root, 'annotations', 'training')
    names = sorted(os.listdir(img_dir))[:2]
    images, proposals, captions = [], [], []
    for index, name in enumerate(names):
        label = cv2.imread(os.path.join(ann_dir, name[:-4] + '.png'), cv2.IMREAD_UNCHANGED)
        images.append(dict(id=index + 10, file_name=name, height=label.shape[0],
                           width=label.shape[1]))
        captions.append(dict(id=index, image_id=index + 10,
                             caption='Balls and a kite fly over the grass under the sky.'))
        for value in np.unique(label):
            rle = mask_utils.encode(np.asfortranarray((label == value).astype(np.uint8)))
            proposals.append(dict(image_id=index + 10, score=1.0, segmentation=dict(
                size=rle['size'], counts=rle['counts'].decode())))
    files = {}
    for key, content in (('captions', dict(images=images, annotations=captions)),
                         ('proposals', proposals)):
        files[key] = tmp_path / f'{key}.json'
        files[key].write_text(json.dumps(content))
    vocab = tmp_path / 'nouns.txt'
    vocab.write_text('ball\nkite\ngrass\nsky\ntent\n')
    config = tmp_path / 'classifier.py'
    config.write_text(f'classifier = dict(type="RegionCLIPClassifier", clip=dict(arch={TINY_VIT},'
                      ' mask_prompt_depth=2), mask_prompt_fwd=True)\n')
    torch.manual_seed(0)
    classifier = RegionCLIPClassifier(clip=dict(arch=TINY_VIT, mask_prompt_depth=2)).eval()
    text = classifier.encode_vocabulary(['ball', 'kite', 'grass', 'sky', 'tent'])
    for match in ('cosine', 'softmax'):
        out = tmp_path / f'mined_{match}.json'
        ovseg_mine_pairs.main([str(config), '--captions', str(files['captions']), '--img-dir',
                               img_dir, '--proposals', str(files['proposals']), '--vocab',
                               str(vocab), '--out', str(out), '--match', match])
        data = json.loads(out.read_text())
        assert [p['text'] for p in data['pairs']] == ['ball', 'kite', 'grass', 'sky'] * 2
        for image in data['images']:
            bgr = cv2.imread(os.path.join(img_dir, image['file_name']))
            source = next(i for i in images if i['file_name'] == image['file_name'])
            masks = np.stack([_decode(p['segmentation']) for p in proposals
                              if p['image_id'] == source['id']])
            with torch.no_grad():
                embeds, _ = classifier.region_embeddings(
                    torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1).float(),
                    torch.from_numpy(masks))
            scores = embeds @ text.T if match == 'cosine' else (100 * embeds @ text.T).softmax(1)
            best = scores[:, :4].argmax(0).tolist()
            pairs = [p for p in data['pairs'] if p['image_id'] == image['id']]
            assert [p['proposal_index'] for p in pairs] == best
            assert all(np.array_equal(_decode(p['mask']), masks[b])
                       for p, b in zip(pairs, best))
