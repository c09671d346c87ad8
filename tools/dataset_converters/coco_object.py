"""COCO-Object semantic label maps (background + 80 things), from either source.

The reference protocol derives them from the COCO-Stuff 164k pixel maps (things keep their
label, stuff and unlabelled pixels become background). From mmseg's converted COCO-Stuff maps
(``*_labelTrainIds.png``, needed for COCO-Stuff 171 anyway):

    python tools/dataset_converters/coco_object.py \
        --stuff-maps data/coco_stuff164k/annotations/val2017 \
        --out-dir data/coco_stuff164k/annotations/val2017

or by painting the COCO instance annotations (close, but overlaps and crowd regions may differ
from the COCO-Stuff maps, so numbers are not exactly comparable with the reference's):

    python tools/dataset_converters/coco_object.py \
        --ann-file data/coco_stuff164k/annotations/instances_val2017.json \
        --out-dir data/coco_stuff164k/annotations/val2017

Writes ``<image stem>_instanceTrainIds.png`` (uint8) per image: 0 is background (stuff and
unlabelled pixels), ``i`` the ``i``-th category in ascending category-id order (1..80 for COCO).
From instances, annotations are painted in order, later ones over earlier ones; crowd regions
count as their class.
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from clipdense.datasets.coco_object import COCO_OBJECT_SEG_SUFFIX  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Make COCO-Object label maps')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--stuff-maps', help='folder of COCO-Stuff 164k *_labelTrainIds.png '
                        '(the reference protocol)')
    source.add_argument('--ann-file', help='COCO instances_*.json')
    parser.add_argument('--out-dir', required=True, help='folder for the label PNGs')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def category_labels(coco) -> dict:
    """COCO category id -> label (1-based, ascending id order)."""
    return {cat_id: index + 1 for index, cat_id in enumerate(sorted(coco.getCatIds()))}


def object_label_map(coco, image_id: int, labels: dict) -> np.ndarray:
    """``(H, W)`` uint8 label map of one image."""
    info = coco.loadImgs(image_id)[0]
    label = np.zeros((info['height'], info['width']), np.uint8)
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=None)):
        label[coco.annToMask(ann).astype(bool)] = labels[ann['category_id']]
    return label


def _run_all(write, items, nproc: int) -> int:
    """Calls ``write`` on every item, on ``nproc`` threads when > 1; returns the item count."""
    if nproc > 1:
        from multiprocessing.pool import ThreadPool
        with ThreadPool(nproc) as pool:
            pool.map(write, items)
    else:
        for item in items:
            write(item)
    return len(items)


def convert(ann_file: str, out_dir: str, nproc: int = 1) -> int:
    """Writes one PNG per image; returns the number written."""
    import cv2
    from pycocotools.coco import COCO
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'COCO annotation file not found: {ann_file}')
    coco = COCO(ann_file)
    labels = category_labels(coco)
    if len(labels) > 254:
        raise ValueError(f'{len(labels)} categories do not fit uint8 label maps')
    os.makedirs(out_dir, exist_ok=True)
    image_ids = sorted(coco.getImgIds())

    def write(image_id):
        stem = osp.splitext(coco.loadImgs(image_id)[0]['file_name'])[0]
        cv2.imwrite(osp.join(out_dir, stem + COCO_OBJECT_SEG_SUFFIX),
                    object_label_map(coco, image_id, labels))

    return _run_all(write, image_ids, nproc)


COCO_STUFF_SEG_SUFFIX = '_labelTrainIds.png'
COCO_STUFF_NUM_THINGS = 80  # COCO-Stuff train ids 0..79 are the things, 80..170 stuff, 255 none


def object_map_from_stuff(stuff: np.ndarray) -> np.ndarray:
    """COCO-Stuff 171 train ids -> COCO-Object labels: things ``i`` -> ``i + 1``, the rest 0."""
    return np.where(stuff < COCO_STUFF_NUM_THINGS, stuff.astype(np.int64) + 1, 0).astype(np.uint8)


def convert_stuff_maps(stuff_dir: str, out_dir: str, nproc: int = 1) -> int:
    """Writes one COCO-Object PNG per COCO-Stuff ``*_labelTrainIds.png``; returns the number."""
    import cv2
    if not osp.isdir(stuff_dir):
        raise FileNotFoundError(f'COCO-Stuff label folder not found: {stuff_dir}')
    names = sorted(n for n in os.listdir(stuff_dir) if n.endswith(COCO_STUFF_SEG_SUFFIX))
    if not names:
        raise FileNotFoundError(f'no *{COCO_STUFF_SEG_SUFFIX} under {stuff_dir} (convert '
                                'COCO-Stuff 164k with mmseg\'s coco_stuff164k converter first)')
    os.makedirs(out_dir, exist_ok=True)

    def write(name):
        stuff = cv2.imread(osp.join(stuff_dir, name), cv2.IMREAD_UNCHANGED)
        if stuff is None or stuff.ndim != 2:
            raise ValueError(f'{name}: not a single-channel label map')
        stem = name[:-len(COCO_STUFF_SEG_SUFFIX)]
        cv2.imwrite(osp.join(out_dir, stem + COCO_OBJECT_SEG_SUFFIX),
                    object_map_from_stuff(stuff))

    return _run_all(write, names, nproc)


def main(argv=None):
    args = parse_args(argv)
    if args.stuff_maps:
        count = convert_stuff_maps(args.stuff_maps, args.out_dir, args.nproc)
    else:
        count = convert(args.ann_file, args.out_dir, args.nproc)
    print(f'wrote {count} COCO-Object label maps to {args.out_dir}')


if __name__ == '__main__':
    sys.exit(main())
