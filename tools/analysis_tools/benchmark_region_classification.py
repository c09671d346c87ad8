"""Speed of OVSeg's CLIP stage: classify Q region masks of one image, ours against the original's
way, measured in the same process.

    python tools/analysis_tools/benchmark_region_classification.py [--device cpu|cuda]
        [--model ViT-B-16 | --tiny] [--pretrained FILE] [--masks 100] [--size 640]
        [--repeat 5] [--chunk-size 100] [--no-mask-prompts] [--dtype float32|float16]
        [--out results.json]

Rows (median milliseconds over ``--repeat`` runs after ``--warmup`` untimed ones):

* ``crops``: ours = one ``masked_crops`` call + nearest crop masks for all regions; original =
  its Python loop of box, fill, crop, normalise, bicubic resize, nearest mask resize per region;
* ``stage``: crops + CLIP image tower + ``softmax(100 * cos)`` against C text embeddings.
  Ours: one crop call, regions through the tower ``chunk_size`` at a time. Original (OVSeg's
  adapter): the crop loop, then one forward of all regions. "Per-region loop": the crop loop
  and one forward per region.

The outputs of ours and the original are compared (max abs difference of the L2-normalised
embeddings). The image and masks are random but seeded; masks are ellipses and boxes of random
size and place (a few empty ones included, as a MaskFormer's proposals may be). The text
embeddings are random unit vectors (the text tower is not part of the stage timing). Weights are
random unless ``--pretrained`` is given (speed does not depend on them).
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

TINY_VIT = dict(embed_dim=32, vision_cfg=dict(layers=3, width=64, patch_size=16, image_size=224,
                                              head_width=32),
                text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark OVSeg region classification')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--model', default='ViT-B-16', help='open_clip ViT name')
    parser.add_argument('--tiny', action='store_true', help='a tiny ViT instead (mechanics only)')
    parser.add_argument('--pretrained', help='local CLIP weights (optional)')
    parser.add_argument('--masks', type=int, default=100)
    parser.add_argument('--size', type=int, default=640)
    parser.add_argument('--classes', type=int, default=150)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1, help='untimed runs before timing')
    parser.add_argument('--chunk-size', type=int, default=100)
    parser.add_argument('--no-mask-prompts', action='store_true')
    parser.add_argument('--dtype', default='float32', choices=['float32', 'float16'])
    parser.add_argument('--skip-per-region', action='store_true',
                        help='skip the per-region-forward row (slow on CPU)')
    parser.add_argument('--out', help='write the results as JSON')
    return parser.parse_args(argv)


def random_masks(count: int, size: int, seed: int = 0) -> torch.Tensor:
    """``(count, size, size)`` bool: ellipses and boxes of random size/place, ~3% empty."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    masks = np.zeros((count, size, size), bool)
    for index in range(count):
        if rng.random() < 0.03:
            continue
        cy, cx = rng.uniform(0, size, 2)
        ry, rx = rng.uniform(0.02, 0.4, 2) * size
        if rng.random() < 0.5:
            masks[index] = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        else:
            masks[index] = (abs(yy - cy) <= ry) & (abs(xx - cx) <= rx)
    return torch.from_numpy(masks)


def timed(fn, repeat: int, device: str, warmup: int = 1):
    """Median milliseconds of ``fn()`` over ``repeat`` runs after ``warmup`` ones; last result."""
    for _ in range(warmup):
        fn()
    times, result = [], None
    for _ in range(repeat):
        if device == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = fn()
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def build_classifier(args):
    import clipdense  # noqa: F401
    from clipdense.models.heads.region_clip_classifier import RegionCLIPClassifier
    clip = dict(arch=TINY_VIT) if args.tiny else dict(model_name=args.model)
    if args.pretrained:
        clip['pretrained'] = args.pretrained
    clip['mask_prompt_depth'] = 0 if args.no_mask_prompts else 3
    torch.manual_seed(0)
    classifier = RegionCLIPClassifier(clip=clip, chunk_size=args.chunk_size,
                                      mask_prompt_fwd=not args.no_mask_prompts)
    return classifier.to(device=args.device, dtype=getattr(torch, args.dtype)).eval()


def main(argv=None):
    args = parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is available')
    classifier = build_classifier(args)
    device = args.device
    generator = torch.Generator().manual_seed(0)
    image = (torch.rand(3, args.size, args.size, generator=generator) * 255).to(device)
    masks = random_masks(args.masks, args.size).to(device)
    text = torch.nn.functional.normalize(
        torch.randn(args.classes, classifier.visual.embed_dim, generator=generator), dim=-1
    ).to(device)

    def ours_crops():
        return classifier.region_crops(image, masks)

    def loop_crops():
        return classifier.region_crops_loop(image, masks)

    def ours_stage():
        embeds, _ = classifier.region_embeddings(image, masks)
        return classifier.probabilities(embeds, text), embeds

    def original_stage(batched=True):
        embeds, _ = classifier.region_embeddings_loop(image, masks, batched_forward=batched)
        return classifier.probabilities(embeds, text), embeds

    rows = {}

    def time_row(label, fn, repeat=args.repeat):
        rows[label], result = timed(fn, repeat, device, args.warmup)
        return result

    with torch.no_grad():
        crops, _, valid = time_row('crops ours', ours_crops)
        loop, _, _ = time_row('crops original loop', loop_crops)
        crop_diff = float((crops[valid].float() - loop.float()).abs().max()) if loop.numel() else 0
        _, ours_embeds = time_row('stage ours', ours_stage)
        _, orig_embeds = time_row('stage original (crop loop + one forward)', original_stage)
        if not args.skip_per_region:
            time_row('stage per-region loop (crop + forward each)', lambda: original_stage(False),
                     max(1, args.repeat // 2))
    embed_diff = float((ours_embeds - orig_embeds).abs().max())
    name = 'tiny ViT (224, patch 16)' if args.tiny else args.model
    print(f'{name}, {args.masks} masks ({int(valid.sum())} non-empty) on {args.size}x{args.size}, '
          f'{args.classes} classes, device {device}, {args.dtype}, torch threads '
          f'{torch.get_num_threads()}, mask prompts {not args.no_mask_prompts}, chunk '
          f'{args.chunk_size}')
    ours = {'crops': rows['crops ours'], 'stage': rows['stage ours']}
    for label, value in rows.items():
        base = ours['crops' if label.startswith('crops') else 'stage']
        print(f'  {label:46s} {value:10.2f} ms   {value / base:6.2f}x ours')
    print(f'  max |crop ours - crop loop| = {crop_diff:.2e}; '
          f'max |embedding ours - original| = {embed_diff:.2e}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(args=vars(args), ms=rows, crop_diff=crop_diff,
                           embed_diff=embed_diff), f, indent=1)
    return rows


if __name__ == '__main__':
    main()
