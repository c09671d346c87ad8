"""Benchmarks OVSeg's whole inference per image, stage by stage, against the original's stage 2.

Stages of one image (random weights unless the config's files exist and ``--weights`` is given):

1. proposals: backbone + MaskFormer head + mask upsampling (``OVSeg.proposals``);
2. region crops: binarisation + one ``masked_crops`` call for all masks;
3. CLIP tower: all non-empty regions batched (``chunk_size`` per forward) + probabilities;
4. ensemble + semantic map + resize to the original size.

Against stage 2+3 done the original's way (``RegionCLIPClassifier.region_embeddings_loop``): a
Python loop of box, fill, crop, normalise, bicubic resize per region, then one batched tower
forward (the original adapter), and optionally one forward per region (``--per-region-forward``);
the loop's crops alone are timed with the tower replaced by a constant.
Both paths run in this process on the same model, image, masks and cached text classifier; the
largest probability difference between them is printed.

    python tools/analysis_tools/benchmark_ovseg.py --device cpu            # R101c + ViT-B/16
    python tools/analysis_tools/benchmark_ovseg.py --device cuda --repeats 20
    python tools/analysis_tools/benchmark_ovseg.py CONFIG --image-size 640 853 --queries 100
"""
import argparse
import os
import statistics
import sys
import time
from contextlib import contextmanager

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

DEFAULT_CONFIG = 'configs/ovseg/ovseg_r101c-vit-b16_1xb1-test_ade20k-512x512.py'


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='OVSeg inference benchmark')
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG, help='OVSeg config')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument('--image-size', type=int, nargs=2, default=(512, 683),
                        metavar=('H', 'W'), help='image size after the test resize')
    parser.add_argument('--queries', type=int, help='override the number of queries')
    parser.add_argument('--num-classes', type=int, default=150, help='vocabulary size')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--weights', action='store_true',
                        help="load the config's weight files (default: random init)")
    parser.add_argument('--per-region-forward', action='store_true',
                        help='also time the loop with one tower forward per region')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(argv)


def build_model(args):
    import clipdense  # noqa: F401  (registration)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    cfg.model.train_cfg = None
    if not args.weights:
        cfg.model.clip_classifier.clip.pretrained = None
        cfg.model.backbone.init_cfg = None
        cfg.model.clip_classifier.cache_dir = None
    if args.queries:
        cfg.model.decode_head.num_queries = args.queries
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(args.device).eval()
    model.set_vocabulary([f'class {i}' for i in range(args.num_classes)])
    return model


def make_input(model, height: int, width: int, device: str):
    """A random 8-bit image through the data preprocessor (normalise, pad to 32)."""
    from mmseg.structures import SegDataSample
    torch.manual_seed(1)
    image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width)))
    data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), False)
    return data['inputs'].to(device), [data['data_samples'][0].metainfo]


class StageTimer:
    """Wall time of named stages (CUDA-synchronised), one list of seconds per stage."""

    def __init__(self, device: str):
        self.cuda = device.startswith('cuda')
        self.times = {}

    def __call__(self, name: str, fn, *args, **kwargs):
        if self.cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        if self.cuda:
            torch.cuda.synchronize()
        self.times.setdefault(name, []).append(time.perf_counter() - start)
        return out


@torch.no_grad()
def run_once(model, inputs, metas, text, timer: StageTimer, per_region: bool):
    from clipdense.models.segmentors.ovseg import ensemble_class_probs, semantic_map
    height, width = metas[0]['img_shape']
    clip = model.clip_classifier
    class_logits, mask_logits = timer('1 proposals', model.proposals, inputs, metas, text)
    image = model.image_pixels(inputs)[0, :, :height, :width]

    def crops():
        probs = mask_logits[0, :, :height, :width].sigmoid()
        return probs, clip.region_crops(image, probs > model.mask_threshold)

    mask_probs, (region, crop_masks, valid) = timer('2 region crops', crops)

    def tower():
        embeds = region.new_zeros((region.shape[0], clip.visual.embed_dim))
        keep = valid.nonzero().flatten()
        if keep.numel():
            embeds[keep] = clip.embed_crops(
                region[keep], crop_masks[keep] if crop_masks is not None else None)
        return clip.probabilities(embeds, text).masked_fill(~valid[:, None], 1.0)

    clip_probs = timer('3 CLIP tower', tower)

    def compose():
        probs = ensemble_class_probs(class_logits[0], clip_probs, ~valid, model.ensemble_weight)
        sem_seg = semantic_map(probs, mask_probs)
        return F.interpolate(sem_seg[None], size=metas[0]['ori_shape'], mode='bilinear',
                             align_corners=False)

    timer('4 ensemble + map', compose)
    binary = mask_probs > model.mask_threshold

    def original(batched: bool):
        embeds, empty = clip.region_embeddings_loop(image, binary, batched_forward=batched)
        return clip.probabilities(embeds, text).masked_fill(empty[:, None], 1.0)

    loop_probs = timer('original stage 2 (crop loop + batched tower)', original, True)
    if per_region:
        timer('original stage 2 (crop loop + tower per region)', original, False)
    with _tower_stubbed(clip):  # the loop's own share: crops without the tower
        timer('original crop loop alone', original, True)
    return (clip_probs - loop_probs).abs().max().item(), int(valid.sum())


@contextmanager
def _tower_stubbed(clip):
    """Replaces the CLIP tower by a constant of its output shape, to time the crops alone."""
    visual = clip.visual

    def constant(images, masks=None):
        return images.new_ones((images.shape[0], visual.embed_dim))

    visual.forward = constant
    try:
        yield
    finally:
        del visual.forward


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = build_model(args)
    inputs, metas = make_input(model, *args.image_size, args.device)
    text = model.text_embeddings()
    for _ in range(args.warmup):
        run_once(model, inputs, metas, text, StageTimer(args.device), args.per_region_forward)
    timer = StageTimer(args.device)
    for _ in range(args.repeats):
        max_diff, regions = run_once(model, inputs, metas, text, timer, args.per_region_forward)
    median = {name: statistics.median(values) * 1000 for name, values in timer.times.items()}
    ours = [name for name in median if name[0].isdigit()]
    total = sum(median[name] for name in ours)
    ours_stage2 = median['2 region crops'] + median['3 CLIP tower']
    original_stage2 = median['original stage 2 (crop loop + batched tower)']
    crop_speedup = median['original crop loop alone'] / median['2 region crops']
    results = dict(
        device=args.device, config=args.config, image_size=list(args.image_size),
        queries=int(model.decode_head.num_queries), regions=regions,
        classes=args.num_classes, repeats=args.repeats, threads=torch.get_num_threads(),
        stages_ms={name: round(median[name], 2) for name in ours},
        stage_share={name: round(median[name] / total, 4) for name in ours},
        total_ms=round(total, 2),
        original_ms={name: round(value, 2) for name, value in median.items()
                     if name not in ours},
        original_total_ms=round(total - ours_stage2 + original_stage2, 2),
        stage2_speedup=round(original_stage2 / ours_stage2, 3),
        crop_speedup=round(crop_speedup, 3),
        whole_speedup=round((total - ours_stage2 + original_stage2) / total, 3),
        max_prob_diff=max_diff)
    print(f'{args.device}: image {args.image_size[0]}x{args.image_size[1]}, '
          f'{results["queries"]} queries ({regions} non-empty), {args.num_classes} classes, '
          f'median of {args.repeats}')
    for name in ours:
        print(f'  {name:<48s} {median[name]:10.1f} ms  {100 * median[name] / total:5.1f} %')
    print(f'  {"whole image (ours)":<48s} {total:10.1f} ms')
    for name, value in results['original_ms'].items():
        print(f'  {name:<48s} {value:10.1f} ms')
    print(f'  crops {crop_speedup:.2f}x, stage 2 {results["stage2_speedup"]:.2f}x, whole image '
          f'{results["whole_speedup"]:.2f}x faster; max |p_ours - p_loop| = {max_diff:.2e}')
    if args.out:
        from clipdense.apis.visualize import write_json
        write_json(args.out, results)
    return results


if __name__ == '__main__':
    main()
