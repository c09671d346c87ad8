"""Writes the synthetic toy datasets.

    python tools/make_toy_data.py ade  --out data/toy_ade
    python tools/make_toy_data.py coco --out data/toy_coco
    python tools/make_toy_data.py all  [--out data]   # -> <out>/toy_ade and <out>/toy_coco
    python tools/make_toy_data.py coco-scenes --out data/toy_coco_scenes [--partial-prob 0.3]
        # typed scenes (meadow/beach/snow/night/room labels, partial objects) for BIRDet
"""
import argparse
import os.path as osp
import sys

try:
    from clipdense.datasets.toy_scenes import (SCENE_TYPES, make_toy_ade, make_toy_coco,
                                               make_toy_coco_scenes)
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    from clipdense.datasets.toy_scenes import (SCENE_TYPES, make_toy_ade, make_toy_coco,
                                               make_toy_coco_scenes)

MAKERS = {'ade': make_toy_ade, 'coco': make_toy_coco, 'coco-scenes': make_toy_coco_scenes}
DEFAULT_ROOTS = {'ade': 'toy_ade', 'coco': 'toy_coco', 'coco-scenes': 'toy_coco_scenes'}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate deterministic toy scene datasets.')
    parser.add_argument('kind', choices=['ade', 'coco', 'coco-scenes', 'all'])
    parser.add_argument('--out', default=None,
                        help='dataset root (default data/toy_ade, data/toy_coco or '
                        'data/toy_coco_scenes); for "all" the parent folder of toy_ade/ and '
                        'toy_coco/ (default data)')
    parser.add_argument('--num-train', type=int, default=64)
    parser.add_argument('--num-val', type=int, default=16)
    parser.add_argument('--size', type=int, nargs=2, default=(96, 128), metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--scene-types', nargs='+', choices=SCENE_TYPES,
                        help='coco-scenes only: the scene types, in order (default: all five)')
    parser.add_argument('--partial-prob', type=float,
                        help='coco-scenes only: probability that a thing is a partial case '
                        '(default 0.3)')
    args = parser.parse_args(argv)
    if args.kind != 'coco-scenes' and (args.scene_types or args.partial_prob is not None):
        parser.error('--scene-types and --partial-prob apply to coco-scenes only')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.kind == 'all':
        parent = args.out or 'data'
        roots = {'ade': osp.join(parent, 'toy_ade'), 'coco': osp.join(parent, 'toy_coco')}
    else:
        roots = {args.kind: args.out or osp.join('data', DEFAULT_ROOTS[args.kind])}
    options = dict(num_train=args.num_train, num_val=args.num_val, size=tuple(args.size),
                   seed=args.seed)
    for kind, root in roots.items():
        extra = {}
        if args.scene_types:
            extra['scene_types'] = tuple(args.scene_types)
        if args.partial_prob is not None:
            extra['partial_prob'] = args.partial_prob
        summary = MAKERS[kind](root, **options, **extra)
        counts = ', '.join(f'{split}: {info["num_images"]} images'
                           for split, info in summary['splits'].items())
        print(f'toy {kind} -> {root} ({counts})')


if __name__ == '__main__':
    main()
