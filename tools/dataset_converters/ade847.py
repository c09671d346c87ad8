"""ADE-847 (ADE20K-Full) from the official ADE20K 2021 release, as MaskFormer / OVSeg prepare it.

Input: the unpacked ``ADE20K_2021_17_01`` folder (``images/ADE/{training,validation}/<scene>/
.../ADE_val_00000001.jpg`` with ``ADE_val_00000001_seg.png`` next to each image). Output, inside
the same folder (or ``--out-dir``)::

    images_detectron2/validation/ADE_val_00000001.jpg
    annotations_detectron2/validation/ADE_val_00000001.tif

    python tools/dataset_converters/ade847.py data/ADE20K_2021_17_01 [--split training] [--nproc 4]

Per image, as the original script: object class = ``(R // 10) * 256 + G`` of the ``_seg.png``;
the 847 classes of ``clipdense.datasets.ade847`` get their train ids, everything else 65535;
images whose short side exceeds 512 are resized to short side 512 (image bilinear, labels
nearest); the image is re-saved as JPEG (PIL's default quality, as the original) and the labels
as a 16-bit TIFF. Files are written atomically.
"""
import argparse
import os
import os.path as osp
import sys
from functools import partial
from typing import List, Tuple

import numpy as np
from mmengine.utils import track_parallel_progress, track_progress

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from clipdense.datasets.ade847 import (ADE847_CATEGORIES,  # noqa: E402
                                       WIDE_LABEL_IGNORE_INDEX)
from clipdense.utils import atomic_save  # noqa: E402

MAX_SHORT_SIDE = 512


def split_of(file_name: str) -> str:
    """``ADE_val_00000001.jpg`` -> ``validation``; any other name -> ``training``."""
    parts = file_name.split('_')
    return 'validation' if len(parts) > 1 and parts[1] == 'val' else 'training'


def find_images(root: str, split: str) -> List[str]:
    """Images of ``split`` under ``root/images/ADE`` that have a ``_seg.png`` next to them."""
    image_root = osp.join(root, 'images', 'ADE')
    if not osp.isdir(image_root):
        raise FileNotFoundError(f'{image_root} not found: give the unpacked ADE20K_2021_17_01 '
                                'folder (with images/ADE/{training,validation})')
    found = []
    for folder, _, files in os.walk(image_root):
        for name in files:
            if name.endswith('.jpg') and split_of(name) == split and \
                    osp.isfile(osp.join(folder, name[:-4] + '_seg.png')):
                found.append(osp.join(folder, name))
    return sorted(found, key=osp.basename)


def object_classes(seg_png: np.ndarray) -> np.ndarray:
    """ADE20K ``_seg.png`` (H, W, 3) -> object class ids ``(R // 10) * 256 + G`` (int32)."""
    if seg_png.ndim != 3 or seg_png.shape[2] < 2:
        raise ValueError(f'a _seg.png must be RGB, got shape {seg_png.shape}')
    return (seg_png[..., 0].astype(np.int32) // 10) * 256 + seg_png[..., 1].astype(np.int32)


def train_id_lut() -> np.ndarray:
    """Object class id -> train id (65535 for classes outside the 847)."""
    lut = np.full(max(i for i, _ in ADE847_CATEGORIES) + 1, WIDE_LABEL_IGNORE_INDEX, np.uint16)
    for train_id, (class_id, _) in enumerate(ADE847_CATEGORIES):
        lut[class_id] = train_id
    return lut


def resized_shape(height: int, width: int) -> Tuple[int, int]:
    """The original's rule: short side above 512 -> 512, long side ``round`` (Python's)."""
    if width >= height > MAX_SHORT_SIDE:
        return MAX_SHORT_SIDE, round(width / float(height) * MAX_SHORT_SIDE)
    if height >= width > MAX_SHORT_SIDE:
        return round(height / float(width) * MAX_SHORT_SIDE), MAX_SHORT_SIDE
    return height, width


def convert_image(image_path: str, out_dir: str, split: str, lut: np.ndarray) -> str:
    """Writes one image + label map; returns the label path."""
    import cv2
    from PIL import Image
    name = osp.basename(image_path)
    with Image.open(image_path) as im:
        image = np.asarray(im)
    with Image.open(image_path[:-4] + '_seg.png') as im:
        classes = object_classes(np.asarray(im))
    if classes.shape != image.shape[:2]:
        raise ValueError(f'{image_path}: image {image.shape[:2]} and _seg.png '
                         f'{classes.shape} differ in size')
    height, width = resized_shape(*image.shape[:2])
    if (height, width) != image.shape[:2]:
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        classes = cv2.resize(classes, (width, height), interpolation=cv2.INTER_NEAREST)
    labels = np.full(classes.shape, WIDE_LABEL_IGNORE_INDEX, np.uint16)
    known = classes < len(lut)
    labels[known] = lut[classes[known]]
    image_out = osp.join(out_dir, 'images_detectron2', split, name)
    label_out = osp.join(out_dir, 'annotations_detectron2', split, name[:-4] + '.tif')
    atomic_save(image_out, lambda f: Image.fromarray(image).save(f, format='JPEG'))
    atomic_save(label_out, lambda f: Image.fromarray(labels).save(f, format='TIFF'))
    return label_out


def convert(root: str, out_dir: str = None, split: str = 'validation', nproc: int = 1) -> int:
    """Converts every image of ``split``; returns how many."""
    out_dir = out_dir or root
    images = find_images(root, split)
    if not images:
        raise FileNotFoundError(f'no {split} images with _seg.png under {root}/images/ADE')
    for sub in ('images_detectron2', 'annotations_detectron2'):
        os.makedirs(osp.join(out_dir, sub, split), exist_ok=True)
    task = partial(convert_image, out_dir=out_dir, split=split, lut=train_id_lut())
    if nproc > 1:
        track_parallel_progress(task, images, nproc)
    else:
        track_progress(task, images)
    return len(images)


def main(argv=None):
    parser = argparse.ArgumentParser(description='Prepare ADE-847 from ADE20K_2021_17_01')
    parser.add_argument('root', help='the unpacked ADE20K_2021_17_01 folder')
    parser.add_argument('--out-dir', help='output folder (default: root)')
    parser.add_argument('--split', default='validation', choices=['validation', 'training'])
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    args = parser.parse_args(argv)
    count = convert(args.root, args.out_dir, args.split, args.nproc)
    print(f'{count} {args.split} images written under {args.out_dir or args.root}')
    return count


if __name__ == '__main__':
    main()
