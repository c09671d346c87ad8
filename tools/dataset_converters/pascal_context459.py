"""PC-459 (Pascal Context, all 459 classes) from the official PASCAL-Context release.

Input: ``VOCdevkit/VOC2010`` with the release's ``trainval/<image id>.mat`` files
(``trainval.tar.gz``, each holding ``LabelMap`` with values 1..459 per ``labels.txt``) and a list
of validation ids (OVSeg's ``pascalcontext_val.txt`` or mmseg's
``ImageSets/SegmentationContext/val.txt``; the same 5105 images). Output::

    VOCdevkit/VOC2010/annotations_detectron2/pc459_val/<image id>.tif

    python tools/dataset_converters/pascal_context459.py data/VOCdevkit/VOC2010 [--nproc 4]

As OVSeg's ``prepare_pascal_context.py``: label = ``LabelMap - 1`` (0..458 in the order of
``clipdense.datasets.pascal_context459``), saved as a 16-bit TIFF; 0 in ``LabelMap`` (if any)
becomes 65535 (unlabelled). Files are written atomically.
"""
import argparse
import os
import os.path as osp
import sys
from functools import partial
from typing import List, Optional

import numpy as np
from mmengine.utils import track_parallel_progress, track_progress

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from clipdense.datasets.ade847 import WIDE_LABEL_IGNORE_INDEX  # noqa: E402
from clipdense.datasets.pascal_context459 import PASCAL_CONTEXT459_CLASSES  # noqa: E402
from clipdense.utils import atomic_save  # noqa: E402

SPLIT_FILES = ('pascalcontext_val.txt', 'ImageSets/SegmentationContext/val.txt')
OUT_SUBDIR = 'annotations_detectron2/pc459_val'


def read_ids(root: str, split_file: Optional[str] = None) -> List[str]:
    """Validation image ids from ``split_file`` (relative to root) or the known defaults."""
    candidates = [split_file] if split_file else list(SPLIT_FILES)
    for candidate in candidates:
        path = candidate if osp.isabs(candidate) else osp.join(root, candidate)
        if osp.isfile(path):
            with open(path, encoding='utf-8') as f:
                ids = [line.strip() for line in f if line.strip()]
            if not ids:
                raise ValueError(f'{path} lists no image ids')
            return ids
    raise FileNotFoundError(f'no split file among {candidates} under {root}')


def label_map_459(label_map: np.ndarray, source: str = 'LabelMap') -> np.ndarray:
    """``LabelMap`` (1..459) -> uint16 train ids 0..458, 65535 where ``LabelMap`` is 0."""
    label_map = np.asarray(label_map)
    if label_map.ndim != 2:
        raise ValueError(f'{source} must be 2-D, got shape {label_map.shape}')
    values = label_map.astype(np.int64)
    if values.size and values.max() > len(PASCAL_CONTEXT459_CLASSES):
        raise ValueError(f'{source} has label {values.max()} > {len(PASCAL_CONTEXT459_CLASSES)}')
    out = (values - 1).astype(np.int64)
    out[values <= 0] = WIDE_LABEL_IGNORE_INDEX
    return out.astype(np.uint16)


def convert_one(root: str, image_id: str, mat_dir: str, out_dir: str) -> bool:
    """Writes ``<out_dir>/<id>.tif``; False when the id has no .mat file."""
    import scipy.io
    from PIL import Image
    mat_path = osp.join(root, mat_dir, f'{image_id}.mat')
    if not osp.isfile(mat_path):
        return False
    content = scipy.io.loadmat(mat_path)
    if 'LabelMap' not in content:
        raise KeyError(f'{mat_path} has no LabelMap (keys: {sorted(content)})')
    labels = label_map_459(content['LabelMap'], mat_path)
    path = osp.join(out_dir, f'{image_id}.tif')
    atomic_save(path, lambda f: Image.fromarray(labels).save(f, format='TIFF'))
    return True


def convert(root: str, split_file: Optional[str] = None, mat_dir: str = 'trainval',
            nproc: int = 1) -> int:
    """Converts the split's label maps; returns how many were written."""
    if not osp.isdir(osp.join(root, mat_dir)):
        raise FileNotFoundError(f'{osp.join(root, mat_dir)} not found: unpack the '
                                'PASCAL-Context trainval.tar.gz (its .mat files) there')
    ids = read_ids(root, split_file)
    out_dir = osp.join(root, OUT_SUBDIR)
    os.makedirs(out_dir, exist_ok=True)
    task = partial(convert_one, root, mat_dir=mat_dir, out_dir=out_dir)
    if nproc > 1:
        written = track_parallel_progress(task, ids, nproc)
    else:
        written = track_progress(task, ids)
    missing = [i for i, ok in zip(ids, written) if not ok]
    if missing:
        print(f'{len(missing)} ids have no .mat file (skipped), e.g. {missing[:3]}')
    return sum(written)


def main(argv=None):
    parser = argparse.ArgumentParser(description='Prepare PC-459 label maps')
    parser.add_argument('root', help='VOCdevkit/VOC2010')
    parser.add_argument('--split-file', help=f'validation id list (default: {SPLIT_FILES})')
    parser.add_argument('--mat-dir', default='trainval', help='folder of the release .mat files')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    args = parser.parse_args(argv)
    count = convert(args.root, args.split_file, args.mat_dir, args.nproc)
    print(f'{count} label maps written to {osp.join(args.root, OUT_SUBDIR)}')
    return count


if __name__ == '__main__':
    main()
