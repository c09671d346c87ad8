"""Speed and memory of the real ADE20K DenseCLIP configs: one training step and slide inference.

Each config's model is built exactly as the config says, with random weights (every weight file
entry dropped, nothing read from disk), and driven through its public ``train_step`` (with the
config's optimizer and parameter-wise settings) and ``test_step`` (the config's slide inference).

* train: a batch of ``--batch`` random ``S x S`` images with random labels of the 150 classes;
* infer: one ``S x round(4S/3)`` image (the aspect of a resized ADE20K image) with crop ``S`` and
  stride ``round(2S/3)``, i.e. the config's 512 / 341 at ``S = 512``: two windows.

``--shape S`` defaults to each config's crop size (512, or 640 for ViT-B/16); smaller shapes run on
a CPU in seconds. fp32 and bf16 (``torch.autocast``; no loss scaling needed) are measured after
``--warmup`` untimed steps; reported: median ms per step, images/s, and peak memory over the
warm-up and timed steps (CUDA: the allocator's peak, weights and optimizer state included; CPU:
peak growth of the resident set above the process with the model built, sampled every 2 ms).

    python tools/analysis_tools/benchmark_denseclip.py --shape 128 --iters 3         # CPU, ~1 min
    python tools/analysis_tools/benchmark_denseclip.py --device cuda --iters 20 --out bench.json
"""
import argparse
import contextlib
import ctypes
import gc
import json
import os
import statistics
import sys
import threading
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

CONFIGS = ['configs/denseclip/denseclip_r50_8xb4-80k_ade20k-512x512.py',
           'configs/denseclip/denseclip_r101_8xb4-80k_ade20k-512x512.py',
           'configs/denseclip/denseclip_vit-b16_8xb4-80k_ade20k-640x640.py']
DTYPES = {'fp32': None, 'bf16': torch.bfloat16}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--configs', nargs='+', default=CONFIGS, help='DenseCLIP configs')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N')
    parser.add_argument('--dtypes', nargs='+', default=['fp32', 'bf16'], choices=list(DTYPES))
    parser.add_argument('--modes', nargs='+', default=['train', 'infer'],
                        choices=['train', 'infer'])
    parser.add_argument('--shape', type=int, help='S: train crop S x S, inference image '
                        'S x 4S/3 (default: the config\'s crop size)')
    parser.add_argument('--batch', type=int, default=2, help='training images per step')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps first')
    parser.add_argument('--iters', type=int, default=10, help='timed steps')
    parser.add_argument('--out', help='also write the results to this JSON file')
    args = parser.parse_args(argv)
    if min(args.batch, args.iters) < 1 or args.warmup < 0:
        parser.error('--batch and --iters must be >= 1, --warmup >= 0')
    return args


def build(config: str, shape, device: torch.device):
    """The config's model (random weights, data preprocessor and slide windows for ``shape``)
    and its optimizer wrapper; returns ``(model, optim_wrapper, crop)``."""
    import clipdense  # noqa: F401  (registration)
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, init_default_scope

    from clipdense.apis.runner import drop_weight_files, load_config
    cfg = load_config(os.path.join(ROOT, config) if not os.path.isfile(config) else config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = drop_weight_files(cfg.model)
    crop = shape or tuple(model_cfg.test_cfg.crop_size)[0]
    model_cfg.data_preprocessor.size = (crop, crop)
    model_cfg.test_cfg.update(crop_size=(crop, crop), stride=(round(2 * crop / 3), ) * 2)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.to(device)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim_wrapper, crop


def random_batch(num_images: int, height: int, width: int, num_classes: int, seed: int = 0):
    """mmseg's packed format: uint8 ``(3, H, W)`` images + samples with random labels."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(num_images):
        inputs.append(torch.randint(0, 256, (3, height, width), dtype=torch.uint8,
                                    generator=generator))
        labels = torch.randint(0, num_classes, (1, height, width), generator=generator)
        sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                             pad_shape=(height, width), scale_factor=(1.0, 1.0),
                                             flip=False, reduce_zero_label=True))
        sample.gt_sem_seg = PixelData(data=labels)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


class PeakMemory:
    """Peak memory of the block in MiB: the CUDA allocator's peak, or on CPU the peak growth of
    the resident set (``/proc/self/statm``, sampled every 2 ms by a thread)."""

    def __init__(self, device: torch.device):
        self.device, self.mib = device, None

    @staticmethod
    def _rss() -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')

    def _sample(self):
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, self._rss())

    def __enter__(self):
        gc.collect()
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            with contextlib.suppress(OSError, AttributeError):  # hand freed heap back (glibc)
                ctypes.CDLL('libc.so.6').malloc_trim(0)
            self._base = self._peak = self._rss()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
            self.mib = round(peak / 2**20, 1)
        else:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, self._rss())
            self.mib = round((self._peak - self._base) / 2**20, 1)


def time_steps(step, device: torch.device, warmup: int, iters: int) -> list:
    """Milliseconds of each of ``iters`` calls of ``step`` after ``warmup`` untimed ones."""
    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def run_case(model, optim_wrapper, mode: str, dtype: str, crop: int, args, device) -> dict:
    num_classes = model.decode_head.num_classes
    autocast = torch.autocast(device.type, dtype=DTYPES[dtype], enabled=DTYPES[dtype] is not None)
    if mode == 'train':
        batch = random_batch(args.batch, crop, crop, num_classes)
        model.train()
        losses = []

        def step():
            with autocast:
                log_vars = model.train_step(batch, optim_wrapper)
            losses.append(log_vars['loss'].item())
        images = args.batch
    else:
        batch = random_batch(1, crop, round(4 * crop / 3), num_classes)
        model.eval()

        def step():
            with torch.no_grad(), autocast:
                model.test_step(batch)
        images = 1
    with PeakMemory(device) as memory:  # the warm-up allocates the caches: measured too
        times = time_steps(step, device, args.warmup, args.iters)
    median = statistics.median(times)
    result = dict(mode=mode, dtype=dtype, median_ms=round(median, 2),
                  images_per_s=round(images / median * 1e3, 3), peak_mem_mib=memory.mib,
                  images_per_step=images, times_ms=[round(t, 2) for t in times])
    if mode == 'train':
        result['last_loss'] = round(losses[-1], 4)
    return result


def main(argv=None):
    args = parse_args(argv)
    from mmengine.logging import MMLogger
    MMLogger.get_instance('benchmark_denseclip', log_level='ERROR')  # no per-parameter logs
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is available')
    results = []
    for config in args.configs:
        model, optim_wrapper, crop = build(config, args.shape, device)
        for mode in args.modes:
            for dtype in args.dtypes:
                result = dict(config=os.path.basename(config), device=str(device),
                              train_shape=[crop, crop], infer_shape=[crop, round(4 * crop / 3)],
                              **run_case(model, optim_wrapper, mode, dtype, crop, args, device))
                results.append(result)
                print(f"{result['config']} {mode:5s} {dtype}: {result['median_ms']:.1f} ms/step, "
                      f"{result['images_per_s']:.2f} img/s, peak {result['peak_mem_mib']} MiB",
                      flush=True)
        del model, optim_wrapper
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    if args.out:
        from clipdense.utils import atomic_write
        atomic_write(args.out, json.dumps(dict(
            torch=torch.__version__, device_name=torch.cuda.get_device_name(device)
            if device.type == 'cuda' else 'cpu', threads=torch.get_num_threads(),
            args=vars(args), results=results), indent=1))
    return results


if __name__ == '__main__':
    main()
