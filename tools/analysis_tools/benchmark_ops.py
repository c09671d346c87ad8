"""Benchmarks clipdense's region ops against torchvision, mmcv and the naive PyTorch path.

Prints, per op, shape, dtype and pass, the median time of each implementation measured in this
process and its ratio to ours (> 1 means ours is faster).

    python tools/analysis_tools/benchmark_ops.py --device cpu      # small shapes, ~1 min
    python tools/analysis_tools/benchmark_ops.py --device cuda     # the issue's GPU shapes
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import clipdense.ops as ops
from clipdense.ops.reference import masked_crops_ref, roi_align_ref

try:
    from torchvision.ops import roi_align as tv_roi_align
except Exception:  # torchvision missing or broken
    tv_roi_align = None
try:
    from mmcv.ops import roi_align as mmcv_roi_align
except Exception:  # mmcv missing or built without ops
    mmcv_roi_align = None

DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}

# (rois, (N, C, H, W), stride, output size)
ROI_SHAPES = {
    'cuda': [(1000, (2, 2048, 25, 42), 32, 7), (1000, (2, 256, 200, 336), 4, 7),
             (1000, (2, 256, 200, 336), 4, 14)],
    'cpu': [(200, (2, 256, 25, 42), 32, 7), (200, (2, 64, 100, 168), 4, 7)],
}
# (masks, H, W, S) and (masks, H, W, C, h, w)
CROP_SHAPES = {'cuda': [(100, 640, 640, 224)], 'cpu': [(20, 320, 320, 224)]}
POOL_SHAPES = {'cuda': [(100, 640, 640, 768, 40, 40)], 'cpu': [(50, 320, 320, 768, 20, 20)]}


def _time_once(fn, device):
    if device == 'cuda':
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end)
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def measure_all(fns, device, warmup, repeats):
    """Median milliseconds of each callable (None: absent or failing, e.g. unsupported dtype).

    The implementations take turns within each repeat, so load changes hit all of them alike.
    """
    live, times = {}, {}
    for name, fn in fns.items():
        if fn is None:
            continue
        try:
            for _ in range(warmup):
                fn()
            if device == 'cuda':
                torch.cuda.synchronize()
            live[name], times[name] = fn, []
        except (RuntimeError, NotImplementedError, TypeError) as e:
            print(f'    {name} skipped: {str(e).splitlines()[0][:90]}')
    for _ in range(repeats):
        for name, fn in live.items():
            times[name].append(_time_once(fn, device))
    return {name: statistics.median(times[name]) if name in times else None for name in fns}


def random_rois(num, batch, height, width, stride, gen, device):
    img_h, img_w = height * stride, width * stride
    xy = torch.rand(num, 2, generator=gen) * torch.tensor([img_w, img_h]) * 0.9
    wh = (torch.rand(num, 2, generator=gen) * 0.3 + 0.02) * torch.tensor([img_w, img_h])
    idx = torch.randint(0, batch, (num, 1), generator=gen).float()
    return torch.cat([idx, xy, xy + wh], 1).to(device)


def run_pass(op, inp, backward):
    if not backward:
        with torch.no_grad():
            return lambda: op(inp)
    x = inp.detach().requires_grad_()

    def step():
        out = op(x)
        out.backward(torch.ones_like(out))
        x.grad = None
    return step


def bench_roi_align(args, rows, gen):
    for num, shape, stride, size in ROI_SHAPES[args.device]:
        rois = random_rois(num, shape[0], shape[2], shape[3], stride, gen, args.device)
        for dname in args.dtypes:
            x = torch.randn(shape, generator=gen).to(args.device, DTYPES[dname])
            if args.channels_last:
                x = x.to(memory_format=torch.channels_last)
            scale = 1.0 / stride
            impls = {
                'ours': lambda t: ops.roi_align(t, rois, size, scale, 0, True),
                'torchvision': (lambda t: tv_roi_align(t, rois.to(t.dtype), size, scale, 0, True))
                if tv_roi_align else None,
                'mmcv': (lambda t: mmcv_roi_align(t, rois.to(t.dtype), size, scale, 0, 'avg', True))
                if mmcv_roi_align else None,
                'naive': (lambda t: roi_align_ref(t, rois, size, scale, 0, True))
                if not args.skip_naive_roi_align else None,
            }
            for backward in (False, True):
                label = f'roi_align {num}x{size}x{size} on {"x".join(map(str, shape))}'
                print(f'  {label} {dname} {"fwd+bwd" if backward else "fwd"}')
                times = measure_all({k: run_pass(f, x, backward) if f else None
                                     for k, f in impls.items()}, args.device, args.warmup,
                                    args.repeats)
                rows.append((label, dname, 'fwd+bwd' if backward else 'fwd', times))


def bench_masked_crops(args, rows, gen):
    for q, h, w, s in CROP_SHAPES[args.device]:
        image = (torch.rand(3, h, w, generator=gen) * 255).to(args.device)
        masks = torch.zeros(q, h, w, dtype=torch.bool)
        for i in range(q):  # random rectangles of 2% to 40% of the side
            y0, x0 = torch.randint(0, h // 2, (2,), generator=gen).tolist()
            dy, dx = (torch.rand(2, generator=gen) * 0.38 * h + 0.02 * h).int().tolist()
            masks[i, y0:y0 + dy, x0:x0 + dx] = True
        masks = masks.to(args.device)
        impls = {
            'ours': lambda: ops.masked_crops(image, masks, s, ops.CLIP_MEAN, ops.CLIP_STD),
            'naive': lambda: masked_crops_ref(image, masks, s, ops.CLIP_MEAN, ops.CLIP_STD),
        }
        label = f'masked_crops {q} masks {h}x{w} -> {s}'
        print(f'  {label}')
        times = measure_all(impls, args.device, args.warmup, args.repeats)
        rows.append((label, 'fp32', 'fwd', times))


def naive_mask_pool(features, masks, eps=1e-6):
    m = F.interpolate(masks.to(features.dtype), size=features.shape[-2:], mode='bilinear',
                      align_corners=False)
    return torch.einsum('bqhw,bchw->bqc', m, features) / (m.sum((2, 3))[..., None] + eps)


def bench_mask_pool(args, rows, gen):
    for q, h, w, c, fh, fw in POOL_SHAPES[args.device]:
        for mask_kind in ('bool', 'float'):
            masks = torch.rand(1, q, h, w, generator=gen) > 0.5
            masks = (masks if mask_kind == 'bool' else masks.float()).to(args.device)
            for dname in args.dtypes:
                feats = torch.randn(1, c, fh, fw, generator=gen).to(args.device, DTYPES[dname])
                impls = {'ours': lambda t: ops.mask_pool(t, masks),
                         'naive': lambda t: naive_mask_pool(t, masks)}
                for backward in (False, True):
                    label = f'mask_pool {q} {mask_kind} masks {h}x{w} -> {c}x{fh}x{fw}'
                    print(f'  {label} {dname} {"fwd+bwd" if backward else "fwd"}')
                    times = measure_all({k: run_pass(f, feats, backward) for k, f in impls.items()},
                                        args.device, args.warmup, args.repeats)
                    rows.append((label, dname, 'fwd+bwd' if backward else 'fwd', times))


def print_table(rows, device):
    others = ('torchvision', 'mmcv', 'naive')
    fmt = lambda t: f'{t:9.3f}' if t is not None else '      n/a'
    ratio = lambda t, ours: f'{t / ours:7.2f}x' if t is not None and ours else '     n/a'
    head = (f'{"op / shape":54s} {"dtype":5s} {"pass":7s} {"ours":>9s} ' +
            ' '.join(f'{o:>11s}' for o in others) + '  ' + ' '.join(f'{o[:5] + "/ours":>11s}' for o in others))
    name = torch.cuda.get_device_name() if device == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
    print(f'\nmedian ms on {name} (torch {torch.__version__})')
    print(head)
    print('-' * len(head))
    for label, dname, pas, t in rows:
        ours = t.get('ours')
        print(f'{label:54s} {dname:5s} {pas:7s} {fmt(ours)} ' +
              ' '.join(f'  {fmt(t.get(o))}' for o in others) + '  ' +
              ' '.join(f'   {ratio(t.get(o), ours)}' for o in others))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--ops', nargs='+', default=['roi_align', 'masked_crops', 'mask_pool'],
                        choices=['roi_align', 'masked_crops', 'mask_pool'])
    parser.add_argument('--dtypes', nargs='+', choices=list(DTYPES), default=None,
                        help='default: fp32 fp16 bf16 on cuda, fp32 on cpu')
    parser.add_argument('--repeats', type=int, default=None, help='default: 20 cuda, 5 cpu')
    parser.add_argument('--warmup', type=int, default=None, help='default: 5 cuda, 2 cpu')
    parser.add_argument('--channels-last', action='store_true', help='roi_align on NHWC features')
    parser.add_argument('--skip-naive-roi-align', action='store_true',
                        help='skip the slow per-RoI PyTorch reference of roi_align')
    args = parser.parse_args()
    cuda = args.device == 'cuda'
    args.dtypes = args.dtypes or (list(DTYPES) if cuda else ['fp32'])
    args.repeats = args.repeats or (20 if cuda else 5)
    args.warmup = args.warmup if args.warmup is not None else (5 if cuda else 2)
    gen = torch.Generator().manual_seed(0)
    rows = []
    for op in args.ops:
        globals()[f'bench_{op}'](args, rows, gen)
    print_table(rows, args.device)


if __name__ == '__main__':
    main()
