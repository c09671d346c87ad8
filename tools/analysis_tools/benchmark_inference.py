"""Benchmarks CLIP-DINOiser slide inference (ViT-B/16, random weights) against a naive path.

Both paths run in this process on the same model, images and cached text classifier:

* ours: :class:`ZeroShotSegmentor`'s slide inference: all windows of the image batched through
  one MaskCLIP pass (last block on its value path only, block features taken in the same pass);
* naive: what hook-based implementations do: one window at a time, the full ViT forward
  (including the last block's attention) with forward hooks capturing the block-k LN2 output and
  the last block's input, the value path recomputed for every token, then head and classifier.

Prints images/s, ms per image, peak memory of one image (CUDA: allocator peak; CPU: peak
resident-set growth, measured in a fresh process) and the largest probability difference
between the paths.

    python tools/analysis_tools/benchmark_inference.py --device cpu --small   # ~1 min on 2 cores
    python tools/analysis_tools/benchmark_inference.py --device cuda          # 512x683 -> 448x598
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

# (image H, W after the short-side resize, crop, stride, classes)
SHAPES = {'full': ((448, 598), 448, 224, 150), 'small': ((224, 299), 224, 112, 20)}


def build_model(crop: int, stride: int, num_classes: int, window_batch: int, device: str):
    import clipdense  # noqa: F401  (registration)
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='ZeroShotSegmentor', clip=dict(model_name='ViT-B-16'),
        backbone=dict(feats_idx=-3),
        decode_head=dict(type='DINOiserHead', in_channels=768, proj_channels=256),
        class_names=['background'] + [f'class {i}' for i in range(num_classes - 1)],
        templates='single',
        test_cfg=dict(mode='slide', crop_size=(crop, crop), stride=(stride, stride),
                      window_batch_size=window_batch)))
    return model.to(device).eval()


def naive_window(model, crop: torch.Tensor, classifier: torch.Tensor) -> torch.Tensor:
    """One window, hook-based: full ViT forward + value-path recomputation."""
    visual = model.backbone.visual
    blocks = visual.transformer.resblocks
    captured = {}
    hooks = [blocks[model.backbone.feats_idx].ln_2.register_forward_hook(
                 lambda m, i, out: captured.__setitem__('feats', out)),
             blocks[-1].register_forward_pre_hook(
                 lambda m, args: captured.__setitem__('last_in', args[0]))]
    try:
        tokens, (h, w) = model.backbone.embed(crop)
        visual.transformer(tokens)  # full forward; outputs of the last block are discarded
    finally:
        for hook in hooks:
            hook.remove()
    from clipdense.models.backbones.maskclip_vit import value_path_block
    last = value_path_block(blocks[-1], captured['last_in'])[:, 1:]
    dense = (visual.ln_post(last) @ visual.proj).transpose(1, 2).reshape(1, -1, h, w)
    feats = captured['feats'][:, 1:].transpose(1, 2).reshape(1, -1, h, w)
    refined = model.decode_head(dense, feats)
    probs = model.classify(refined['dense'], classifier)
    probs = model.decode_head.background_rule(probs, refined['saliency_logits'], 0)
    return F.interpolate(probs, size=crop.shape[-2:], mode='bilinear', align_corners=False)


def naive_slide(model, image: torch.Tensor, classifier: torch.Tensor) -> torch.Tensor:
    """The naive path over all windows of one image ``(1, 3, H, W)`` -> ``(1, K, H, W)``."""
    from clipdense.models.segmentors.zero_shot import slide_windows
    cfg = model.test_cfg
    height, width = image.shape[-2:]
    probs = image.new_zeros((1, len(classifier), height, width))
    counts = image.new_zeros((1, 1, height, width))
    for y1, y2, x1, x2 in slide_windows(height, width, cfg['crop_size'], cfg['stride']):
        probs[..., y1:y2, x1:x2] += naive_window(model, image[..., y1:y2, x1:x2], classifier)
        counts[..., y1:y2, x1:x2] += 1
    return probs / counts


def cpu_peak_memory(args, path: str) -> int:
    """Peak RSS growth (bytes) of one image through ``path`` in a fresh process: the kernel's
    high-water mark minus the RSS after the model and classifier are built. (In this process
    the allocator keeps freed memory, so RSS growth after a warm-up would read as zero.)"""
    import subprocess
    command = [sys.executable, os.path.abspath(__file__), '--device', 'cpu',
               '--memory-probe', path] + (['--small'] if args.small else [])
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return int(output.strip().splitlines()[-1])


def memory_probe(args) -> None:
    """Child of :func:`cpu_peak_memory`: prints the peak RSS growth of one image."""
    import resource
    (height, width), crop, stride, num_classes = SHAPES['small' if args.small else 'full']
    model = build_model(crop, stride, num_classes, args.window_batch, 'cpu')
    classifier = model.text_classifier()
    image = torch.randn(1, 3, height, width)
    model.backbone(torch.randn(1, 3, 32, 32))  # initialise the math libraries first
    with open('/proc/self/statm') as f:
        base = int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    if args.memory_probe == 'ours':
        model.encode_decode(image)
    else:
        naive_slide(model, image, classifier)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base)


def measure(paths: dict, images, device: str, warmup: int, reps: int) -> dict:
    """Median seconds per image of each path; the paths alternate image by image, so a busy
    machine slows them alike."""
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    for fn in paths.values():
        for image in images[:warmup]:
            fn(image)
    sync()
    times = {name: [] for name in paths}
    for _ in range(reps):
        for image in images:
            for name, fn in paths.items():
                start = time.perf_counter()
                fn(image)
                sync()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def cuda_peak_memory(fn, image) -> int:
    """Allocator peak (bytes) above what was allocated before one image."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn(image)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='CLIP-DINOiser inference benchmark')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--small', action='store_true',
                        help='224x299 images, 224/112 windows, 20 classes (CPU-friendly)')
    parser.add_argument('--images', type=int, default=2, help='distinct random images')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--reps', type=int, default=3, help='passes over the images')
    parser.add_argument('--window-batch', type=int, default=8, help='windows per forward pass')
    parser.add_argument('--tf32', action='store_true', help='allow TF32 matmuls (CUDA)')
    parser.add_argument('--json', help='also write the results to this file')
    parser.add_argument('--memory-probe', choices=['ours', 'naive'], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


@torch.no_grad()
def main(argv=None):
    from clipdense.models.segmentors.zero_shot import slide_windows
    args = parse_args(argv)
    if args.memory_probe:
        return memory_probe(args)
    if args.tf32:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    (height, width), crop, stride, num_classes = SHAPES['small' if args.small else 'full']
    model = build_model(crop, stride, num_classes, args.window_batch, args.device)
    classifier = model.text_classifier()  # computed once; cached for both paths
    torch.manual_seed(1)
    images = [torch.randn(1, 3, height, width, device=args.device) for _ in range(args.images)]

    ours = lambda image: model.encode_decode(image)  # noqa: E731
    naive = lambda image: naive_slide(model, image, classifier)  # noqa: E731
    difference = max(float((ours(im) - naive(im)).abs().max()) for im in images)
    results = dict(device=str(torch.cuda.get_device_name() if args.device.startswith('cuda')
                              else f'cpu ({torch.get_num_threads()} threads)'),
                   image=[height, width], crop=crop, stride=stride, classes=num_classes,
                   windows_per_image=len(slide_windows(height, width, (crop, crop),
                                                       (stride, stride))),
                   max_abs_probability_difference=difference)
    paths = dict(ours=ours, naive=naive)
    seconds = measure(paths, images, args.device, args.warmup, args.reps)
    for name, fn in paths.items():
        peak = cuda_peak_memory(fn, images[0]) if args.device.startswith('cuda') else \
            cpu_peak_memory(args, name)
        results[name] = dict(ms_per_image=round(seconds[name] * 1e3, 2),
                             images_per_s=round(1 / seconds[name], 3),
                             peak_memory_mib=round(peak / 2 ** 20, 1))
    results['speedup'] = round(results['naive']['ms_per_image'] / results['ours']['ms_per_image'],
                               3)
    print(f"ViT-B/16 CLIP-DINOiser, {results['device']}, image {height}x{width}, "
          f"{results['windows_per_image']} windows of {crop} (stride {stride}), "
          f'{num_classes} classes')
    print(f"{'path':<8}{'ms/image':>12}{'images/s':>12}{'peak MiB':>12}")
    for name in ('ours', 'naive'):
        r = results[name]
        print(f"{name:<8}{r['ms_per_image']:>12.1f}{r['images_per_s']:>12.3f}"
              f"{r['peak_memory_mib']:>12.1f}")
    print(f"speed-up {results['speedup']:.2f}x; max |probability difference| {difference:.2e}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == '__main__':
    main()
