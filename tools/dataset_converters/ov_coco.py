"""OV-COCO annotation files from the official COCO 2017 instance JSONs.

    python tools/dataset_converters/ov_coco.py data/coco/annotations

reads ``instances_train2017.json`` and ``instances_val2017.json`` from that folder and writes
next to them (or into ``--out-dir``):

- ``instances_train2017_ovd_base.json``: the 48 base categories and only their annotations;
  every image is kept (images left without annotations are skipped at training time by the
  dataset's ``filter_empty_gt``), as in OVR-CNN's "seen" training file;
- ``instances_val2017_ovd_all.json``: the 65 base + novel categories and their annotations,
  every validation image.

Each written category gets ``"split": "base"`` or ``"novel"``. Other splits of other COCO-format
data (e.g. the toy scenes) with ``--base``/``--novel``, ``--train-file``/``--val-file``. Class
names missing from a file stop the run before anything is written; files are written atomically.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from clipdense.datasets.ov_coco import (OV_COCO_BASE_CLASSES,  # noqa: E402
                                        OV_COCO_NOVEL_CLASSES)
from clipdense.utils import atomic_write, read_json  # noqa: E402

SUFFIXES = dict(base='_ovd_base', all='_ovd_all')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Write OV-COCO base/all annotation files')
    parser.add_argument('ann_dir', help='folder with the COCO instance JSONs')
    parser.add_argument('--out-dir', help='output folder (default: ann_dir)')
    parser.add_argument('--train-file', default='instances_train2017.json')
    parser.add_argument('--val-file', default='instances_val2017.json')
    parser.add_argument('--base', nargs='+', default=list(OV_COCO_BASE_CLASSES),
                        help='base class names (default: the 48 OV-COCO base classes)')
    parser.add_argument('--novel', nargs='+', default=list(OV_COCO_NOVEL_CLASSES),
                        help='novel class names (default: the 17 OV-COCO novel classes)')
    return parser.parse_args(argv)


def split_annotations(coco: dict, base_classes: Sequence[str], novel_classes: Sequence[str],
                      keep: str, source: str = 'the annotation file') -> dict:
    """A copy of a COCO-format dict restricted to the base (``keep='base'``) or base + novel
    (``keep='all'``) categories; categories get ``"split"``, every image is kept."""
    if keep not in SUFFIXES:
        raise ValueError(f'keep must be one of {sorted(SUFFIXES)}, got {keep!r}')
    overlap = sorted(set(base_classes) & set(novel_classes))
    if overlap:
        raise ValueError(f'classes both base and novel: {overlap}')
    by_name = {cat['name']: cat for cat in coco.get('categories', [])}
    missing = [name for name in list(base_classes) + list(novel_classes) if name not in by_name]
    if missing:
        raise ValueError(f'{source} has no categories named {missing} '
                         f'(it has {sorted(by_name)})')
    split = {name: 'base' for name in base_classes}
    if keep == 'all':
        split.update({name: 'novel' for name in novel_classes})
    categories = sorted((dict(cat, split=split[cat['name']]) for cat in coco['categories']
                         if cat['name'] in split), key=lambda cat: cat['id'])
    kept_ids = {cat['id'] for cat in categories}
    out = {key: value for key, value in coco.items() if key not in ('categories', 'annotations')}
    out['categories'] = categories
    out['annotations'] = [ann for ann in coco.get('annotations', [])
                          if ann['category_id'] in kept_ids]
    return out


def convert(ann_dir: str, out_dir: str = None, train_file: str = 'instances_train2017.json',
            val_file: str = 'instances_val2017.json',
            base_classes: Sequence[str] = OV_COCO_BASE_CLASSES,
            novel_classes: Sequence[str] = OV_COCO_NOVEL_CLASSES) -> Dict[str, dict]:
    """Writes the base-only training and the base + novel validation files; returns
    ``{output path: counts}``. All inputs are read and checked before anything is written."""
    out_dir = out_dir or ann_dir
    inputs = ((train_file, 'base'), (val_file, 'all'))
    for name, _ in inputs:
        if not osp.isfile(osp.join(ann_dir, name)):
            raise FileNotFoundError(f'COCO annotation file not found: {osp.join(ann_dir, name)}')
    jobs = []
    for name, keep in inputs:
        path = osp.join(ann_dir, name)
        coco = read_json(path, 'COCO annotation file')
        converted = split_annotations(coco, base_classes, novel_classes, keep, source=path)
        stem = osp.splitext(name)[0]
        jobs.append((osp.join(out_dir, stem + SUFFIXES[keep] + '.json'), converted))
    os.makedirs(out_dir, exist_ok=True)
    report = {}
    for path, converted in jobs:
        atomic_write(path, json.dumps(converted, separators=(',', ':')))
        report[path] = dict(images=len(converted.get('images', [])),
                            annotations=len(converted['annotations']),
                            categories=len(converted['categories']))
    return report


def main(argv=None):
    args = parse_args(argv)
    report = convert(args.ann_dir, args.out_dir, args.train_file, args.val_file, args.base,
                     args.novel)
    for path, counts in report.items():
        print(f'{path}: {counts["categories"]} categories, {counts["images"]} images, '
              f'{counts["annotations"]} annotations')
    return report


if __name__ == '__main__':
    main()
