"""(image, region mask, text) pairs from ground-truth segmentation, for adapting CLIP (OVSeg).

OVSeg's "COCO GT 171 classes" case: every class present in an image gives one pair (its mask,
its class name). Two sources:

* semantic label maps (COCO-Stuff 171 ``*_labelTrainIds.png``, ADE20K-style maps, the toy data):

    python tools/dataset_converters/ovseg_region_pairs.py semantic \\
        --img-dir data/toy_ade/images/training --ann-dir data/toy_ade/annotations/training \\
        --dataset ToyADEDataset --reduce-zero-label --out data/toy_ade/region_pairs_train.json

  Class names come from ``--classes FILE`` (one per line) or a registered dataset type
  (``--dataset COCOStuffDataset``). Label ``v`` is class ``v`` (``v - 1`` with
  ``--reduce-zero-label``, where 0 is unlabelled); ``--ignore-index`` (255) is skipped.

* COCO panoptic annotations (one pair per segment, the category name as text):

    python tools/dataset_converters/ovseg_region_pairs.py panoptic \\
        --img-dir data/coco/train2017 --panoptic-json panoptic_train2017.json \\
        --panoptic-dir data/coco/panoptic_train2017 --out data/coco/ovseg_pairs_train.json

Pairs smaller than ``--min-area`` pixels are dropped. The output (see
``clipdense/datasets/region_text.py``) is written atomically; ``file_name`` is relative to
``--img-dir``.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from clipdense.apis.visualize import encode_mask_rle  # noqa: E402
from clipdense.datasets.region_text import write_region_pairs  # noqa: E402
from clipdense.utils import read_json  # noqa: E402

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Make OVSeg region-text pairs from GT masks')
    sub = parser.add_subparsers(dest='source', required=True)
    sem = sub.add_parser('semantic', help='semantic label maps + class names')
    sem.add_argument('--img-dir', required=True)
    sem.add_argument('--ann-dir', required=True)
    names = sem.add_mutually_exclusive_group(required=True)
    names.add_argument('--classes', help='text file, one class name per line')
    names.add_argument('--dataset', help='registered mmseg dataset type whose classes to use')
    sem.add_argument('--reduce-zero-label', action='store_true',
                     help='label 0 is unlabelled and label v is class v - 1 (ADE20K layout)')
    sem.add_argument('--ignore-index', type=int, default=255)
    sem.add_argument('--seg-suffix', default='.png')
    pan = sub.add_parser('panoptic', help='COCO panoptic JSON + PNGs')
    pan.add_argument('--img-dir', required=True)
    pan.add_argument('--panoptic-json', required=True)
    pan.add_argument('--panoptic-dir', required=True)
    pan.add_argument('--skip-crowd', action='store_true', help='drop iscrowd segments')
    for p in (sem, pan):
        p.add_argument('--out', required=True, help='output JSON file')
        p.add_argument('--min-area', type=int, default=1, help='smallest region in pixels')
    return parser.parse_args(argv)


def read_class_names(classes_file: Optional[str], dataset: Optional[str]) -> List[str]:
    """Class names from a text file or a registered mmseg dataset type's METAINFO."""
    if classes_file:
        if not osp.isfile(classes_file):
            raise FileNotFoundError(f'class-name file not found: {classes_file}')
        with open(classes_file, encoding='utf-8') as f:
            names = [line.strip() for line in f if line.strip()]
    else:
        import clipdense  # noqa: F401  (registers clipdense's datasets)
        from mmseg.registry import DATASETS
        dataset_cls = DATASETS.get(dataset)
        if dataset_cls is None:
            raise KeyError(f'dataset type {dataset!r} is not registered in mmseg')
        names = list(dataset_cls.METAINFO.get('classes') or [])
    if not names:
        raise ValueError('no class names given')
    return names


def _read_image_size(path: str) -> Tuple[int, int]:
    import cv2
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f'unreadable image: {path}')
    return image.shape[:2]


def _find_image(img_dir: str, stem: str) -> str:
    for suffix in IMAGE_SUFFIXES:
        if osp.isfile(osp.join(img_dir, stem + suffix)):
            return stem + suffix
    raise FileNotFoundError(f'no image for {stem!r} under {img_dir} ({IMAGE_SUFFIXES})')


def semantic_pairs(img_dir: str, ann_dir: str, classes: Sequence[str],
                   reduce_zero_label: bool = False, ignore_index: int = 255,
                   seg_suffix: str = '.png', min_area: int = 1) -> Tuple[list, list]:
    """One pair per (image, class present); returns ``(images, pairs)``."""
    import cv2
    for folder in (img_dir, ann_dir):
        if not osp.isdir(folder):
            raise FileNotFoundError(f'folder not found: {folder}')
    names = sorted(n for n in os.listdir(ann_dir) if n.endswith(seg_suffix))
    if not names:
        raise FileNotFoundError(f'no *{seg_suffix} label maps under {ann_dir}')
    images, pairs = [], []
    for name in names:
        label = cv2.imread(osp.join(ann_dir, name), cv2.IMREAD_UNCHANGED)
        if label is None or label.ndim != 2:
            raise ValueError(f'{osp.join(ann_dir, name)}: not a single-channel label map')
        stem = name[:-len(seg_suffix)]
        if stem.endswith('_labelTrainIds'):
            stem = stem[:-len('_labelTrainIds')]
        file_name = _find_image(img_dir, stem)
        if _read_image_size(osp.join(img_dir, file_name)) != label.shape:
            raise ValueError(f'{name}: label map {label.shape} and image {file_name} differ')
        image_id = len(images) + 1
        images.append(dict(id=image_id, file_name=file_name, height=int(label.shape[0]),
                           width=int(label.shape[1])))
        for value in np.unique(label):
            if value == ignore_index or (reduce_zero_label and value == 0):
                continue
            index = int(value) - 1 if reduce_zero_label else int(value)
            if not 0 <= index < len(classes):
                raise ValueError(f'{name}: label {value} has no class name ({len(classes)} '
                                 'classes); check --reduce-zero-label / --ignore-index')
            mask = label == value
            area = int(mask.sum())
            if area >= min_area:
                pairs.append(dict(id=len(pairs) + 1, image_id=image_id, text=classes[index],
                                  area=area, mask=encode_mask_rle(mask)))
    return images, pairs


def panoptic_pairs(img_dir: str, panoptic_json: str, panoptic_dir: str,
                   skip_crowd: bool = False, min_area: int = 1) -> Tuple[list, list, list]:
    """One pair per panoptic segment; returns ``(images, pairs, classes)``."""
    import cv2
    data = read_json(panoptic_json, 'panoptic JSON')
    categories = {c['id']: c['name'] for c in data['categories']}
    infos = {image['id']: image for image in data['images']}
    images, pairs = [], []
    for ann in sorted(data['annotations'], key=lambda a: a['image_id']):
        info = infos.get(ann['image_id'])
        if info is None:
            raise ValueError(f'{panoptic_json}: annotation for unknown image_id '
                             f'{ann["image_id"]}')
        png_path = osp.join(panoptic_dir, ann['file_name'])
        png = cv2.imread(png_path, cv2.IMREAD_COLOR)
        if png is None:
            raise FileNotFoundError(f'panoptic PNG not found or unreadable: {png_path}')
        rgb = png[..., ::-1].astype(np.int64)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]
        if ids.shape != (info['height'], info['width']):
            raise ValueError(f'{png_path}: size {ids.shape} differs from the image entry')
        if not osp.isfile(osp.join(img_dir, info['file_name'])):
            raise FileNotFoundError(f'image not found: {osp.join(img_dir, info["file_name"])}')
        image_id = len(images) + 1
        images.append(dict(id=image_id, file_name=info['file_name'], height=info['height'],
                           width=info['width']))
        for segment in ann['segments_info']:
            if skip_crowd and segment.get('iscrowd', 0):
                continue
            if segment['category_id'] not in categories:
                raise ValueError(f'{panoptic_json}: unknown category_id '
                                 f'{segment["category_id"]}')
            mask = ids == segment['id']
            area = int(mask.sum())
            if area >= min_area:
                pairs.append(dict(id=len(pairs) + 1, image_id=image_id,
                                  text=categories[segment['category_id']], area=area,
                                  mask=encode_mask_rle(mask)))
    classes = [categories[k] for k in sorted(categories)]
    return images, pairs, classes


def main(argv=None):
    args = parse_args(argv)
    if args.source == 'semantic':
        classes = read_class_names(args.classes, args.dataset)
        images, pairs = semantic_pairs(args.img_dir, args.ann_dir, classes,
                                       args.reduce_zero_label, args.ignore_index,
                                       args.seg_suffix, args.min_area)
        source = dict(kind='semantic', ann_dir=args.ann_dir)
    else:
        images, pairs, classes = panoptic_pairs(args.img_dir, args.panoptic_json,
                                                args.panoptic_dir, args.skip_crowd,
                                                args.min_area)
        source = dict(kind='panoptic', panoptic_json=args.panoptic_json)
    if not pairs:
        raise SystemExit(f'no pairs of at least {args.min_area} pixels; nothing written')
    info = dict(description='OVSeg region-text pairs from ground-truth masks',
                img_dir=args.img_dir, min_area=args.min_area, **source)
    write_region_pairs(args.out, images, pairs, classes, info)
    print(f'wrote {len(pairs)} pairs from {len(images)} images ({len(classes)} classes) '
          f'to {args.out}')


if __name__ == '__main__':
    sys.exit(main())
