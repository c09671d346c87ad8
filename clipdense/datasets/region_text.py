"""(image, region mask, text) pairs for adapting CLIP to masked regions (OVSeg).

One JSON file per split::

    {
      "info": {...},                                   # free-form (converter, source, ...)
      "classes": ["sky", "grass", ...],                # optional evaluation vocabulary
      "images": [{"id": 1, "file_name": "a.jpg", "height": 96, "width": 128}, ...],
      "pairs": [{"id": 1, "image_id": 1, "text": "sky", "area": 4210,
                 "mask": {"size": [96, 128], "counts": "<COCO compressed RLE>"},
                 "score": 0.31}, ...]                  # score: optional (mined pairs)
    }

``file_name`` is relative to ``data_prefix['img_path']``. Without ``classes`` the vocabulary is
the pairs' texts in order of first appearance. Written by
``tools/dataset_converters/ovseg_region_pairs.py`` (ground-truth masks) and
``ovseg_mine_pairs.py`` (proposals matched to caption nouns).
"""
import json
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmseg.registry import DATASETS

from clipdense.utils import atomic_write, read_json

REQUIRED_PAIR_KEYS = ('image_id', 'text', 'mask')


def write_region_pairs(path: str, images: List[dict], pairs: List[dict],
                       classes: Optional[Sequence[str]] = None,
                       info: Optional[dict] = None) -> None:
    """Validates, then writes a region-pair file atomically (nothing is written on error)."""
    data = dict(info=info or {}, images=images, pairs=pairs)
    if classes is not None:
        data['classes'] = list(classes)
    validate_region_pairs(data, path)
    atomic_write(path, json.dumps(data))


def load_region_pairs(ann_file: str) -> dict:
    """Reads and validates a region-pair JSON file; errors name the file and the entry."""
    data = read_json(ann_file, 'region-pair file')
    validate_region_pairs(data, ann_file)
    return data


def validate_region_pairs(data: dict, source: str) -> None:
    """Checks the layout of region-pair data; errors name ``source`` and the entry."""
    if not isinstance(data, dict) or 'images' not in data or 'pairs' not in data:
        raise ValueError(f'{source} must be an object with "images" and "pairs" lists')
    images = {}
    for index, image in enumerate(data['images']):
        missing = [k for k in ('id', 'file_name', 'height', 'width') if k not in image]
        if missing:
            raise ValueError(f'{source}: images[{index}] lacks {missing}')
        images[image['id']] = image
    for index, pair in enumerate(data['pairs']):
        missing = [k for k in REQUIRED_PAIR_KEYS if k not in pair]
        if missing:
            raise ValueError(f'{source}: pairs[{index}] lacks {missing}')
        image = images.get(pair['image_id'])
        if image is None:
            raise ValueError(f'{source}: pairs[{index}] names image_id {pair["image_id"]}, '
                             'which is not in "images"')
        if not isinstance(pair['text'], str) or not pair['text'].strip():
            raise ValueError(f'{source}: pairs[{index}] has an empty text')
        size = pair['mask'].get('size') if isinstance(pair['mask'], dict) else None
        if size is None or 'counts' not in pair['mask']:
            raise ValueError(f'{source}: pairs[{index}].mask must be a COCO RLE '
                             '{"size": [h, w], "counts": ...}')
        if list(size) != [image['height'], image['width']]:
            raise ValueError(f'{source}: pairs[{index}] mask size {list(size)} differs from '
                             f'image {image["file_name"]} ({image["height"]}x{image["width"]})')


@DATASETS.register_module()
class RegionTextDataset(BaseDataset):
    """Region-text pairs; each item is one pair: ``img_path``, ``mask_rle``, ``text``,
    ``gt_label`` (index of the text in the vocabulary) and ``pair_id``.

    Args:
        ann_file: the JSON file (relative to ``data_root``).
        min_area: pairs whose recorded ``area`` is smaller are skipped (0 keeps all).
        classes: vocabulary override; by default the file's ``classes`` or its texts.
    """
    METAINFO = dict(classes=None)

    def __init__(self, ann_file: str, min_area: int = 1, classes: Optional[List[str]] = None,
                 **kwargs):
        self.min_area = min_area
        self._classes_override = list(classes) if classes else None
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        data = load_region_pairs(self.ann_file)
        images = {image['id']: image for image in data['images']}
        classes = self._classes_override or data.get('classes')
        if not classes:
            classes = list(dict.fromkeys(pair['text'] for pair in data['pairs']))
        index = {name: i for i, name in enumerate(classes)}
        self._metainfo['classes'] = tuple(classes)
        data_list, skipped = [], 0
        for position, pair in enumerate(data['pairs']):
            if pair.get('area', self.min_area) < self.min_area:
                skipped += 1
                continue
            if pair['text'] not in index:
                raise ValueError(f'{self.ann_file}: pairs[{position}] text {pair["text"]!r} is '
                                 f'not in the vocabulary ({len(classes)} classes)')
            image = images[pair['image_id']]
            data_list.append(dict(
                img_path=osp.join(self.data_prefix.get('img_path', ''), image['file_name']),
                mask_rle=pair['mask'], text=pair['text'], gt_label=index[pair['text']],
                pair_id=pair.get('id', position), seg_fields=[]))
        if skipped:
            print_log(f'{self.ann_file}: skipped {skipped} pairs smaller than {self.min_area} '
                      'pixels', 'current')
        if not data_list:
            raise ValueError(f'{self.ann_file} has no usable pairs')
        return data_list
