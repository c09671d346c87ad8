"""Writes the synthetic toy datasets.

    python tools/make_toy_data.py ade  --out data/toy_ade
    python tools/make_toy_data.py coco --out data/toy_coco
    python tools/make_toy_data.py all  [--out data]   # -> <out>/toy_ade and <out>/toy_coco
"""
import argparse
import os.path as osp
import sys

try:
    from clipdense.datasets.toy_scenes import make_toy_ade, make_toy_coco
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    from clipdense.datasets.toy_scenes import make_toy_ade, make_toy_coco


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate deterministic toy scene datasets.')
    parser.add_argument('kind', choices=['ade', 'coco', 'all'])
    parser.add_argument('--out', default=None,
                        help='dataset root (default data/toy_ade or data/toy_coco); '
                        'for "all" the parent folder of toy_ade/ and toy_coco/ (default data)')
    parser.add_argument('--num-train', type=int, default=64)
    parser.add_argument('--num-val', type=int, default=16)
    parser.add_argument('--size', type=int, nargs=2, default=(96, 128), metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.kind == 'all':
        parent = args.out or 'data'
        roots = {'ade': osp.join(parent, 'toy_ade'), 'coco': osp.join(parent, 'toy_coco')}
    else:
        roots = {args.kind: args.out or osp.join('data', f'toy_{args.kind}')}
    options = dict(num_train=args.num_train, num_val=args.num_val, size=tuple(args.size),
                   seed=args.seed)
    for kind, root in roots.items():
        make = make_toy_ade if kind == 'ade' else make_toy_coco
        summary = make(root, **options)
        counts = ', '.join(f'{split}: {info["num_images"]} images'
                           for split, info in summary['splits'].items())
        print(f'toy {kind} -> {root} ({counts})')


if __name__ == '__main__':
    main()
