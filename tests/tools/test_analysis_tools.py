"""get_flops on zero-shot configs (and nn.MultiheadAttention's fast path counted), the DenseCLIP
benchmark on the real ADE20K configs and a toy one, and the launcher's Python."""
import json
import os
import subprocess

import torch

from tests.tools.helpers import ROOT
from tools.analysis_tools import benchmark_denseclip
from tools.analysis_tools.get_flops import count_flops
from tools.analysis_tools.get_flops import main as get_flops

MASKCLIP = 'configs/maskclip/maskclip_vit-b16_1xb1-zero-shot_voc20-448x448.py'
DINOISER = 'configs/clip_dinoiser/clip-dinoiser_vit-tiny_1xb1-zero-shot_toy-ade-96x128.py'
TOY_DENSECLIP = 'configs/denseclip/denseclip_rn-tiny_1xb8-400i_toy-ade-96x96.py'


def test_get_flops_on_zero_shot_configs():
    result = get_flops([os.path.join(ROOT, MASKCLIP), '--shape', '224', '224'])
    assert result['params'] == 149_620_737  # open_clip ViT-B-16
    assert result['text_encoder_params'] == 63_428_097
    # 20 VOC classes x 80 templates, 2.912 GFLOPs per prompt, counted once per vocabulary
    assert result['text_encoder_flops'] == 1600 * 2_911_842_816
    # one 224 window: ViT-B/16 (17.58 G) without the last block's q/k path, + classifier
    assert abs(result['flops'] - 17.368e9) < 0.01e9
    toy = get_flops([os.path.join(ROOT, DINOISER), '--shape', '64', '64'])
    assert toy['params'] == 1_653_170 and 0 < toy['flops'] < toy['text_encoder_flops']


class _SelfAttention(torch.nn.Module):
    """As open_clip calls it: batch-first, no attention weights returned."""

    def __init__(self):
        super().__init__()
        self.attention = torch.nn.MultiheadAttention(64, 4, batch_first=True)

    def forward(self, tokens):
        return self.attention(tokens, tokens, tokens, need_weights=False)[0]


def test_native_attention_fast_path_is_counted():
    module, tokens = _SelfAttention().eval(), torch.randn(2, 10, 64)
    with torch.no_grad():  # inference: aten::_native_multi_head_attention
        flops = count_flops(module, (tokens, ))
    projections, products = 4 * 10 * 64 * 64, 2 * 10 * 10 * 64
    assert flops == 2 * (projections + products)


def test_benchmark_toy_config_reports_every_case(tmp_path):
    out = tmp_path / 'bench.json'
    results = benchmark_denseclip.main([
        '--configs', os.path.join(ROOT, TOY_DENSECLIP), '--shape', '64', '--iters', '2',
        '--warmup', '1', '--out', str(out)])
    assert [(r['mode'], r['dtype']) for r in results] == [
        ('train', 'fp32'), ('train', 'bf16'), ('infer', 'fp32'), ('infer', 'bf16')]
    for result in results:
        assert len(result['times_ms']) == 2 and result['median_ms'] > 0
        # median_ms is rounded to 0.01 ms, images_per_s is computed before that rounding
        rate = result['images_per_step'] * 1e3 / result['median_ms']
        assert abs(result['images_per_s'] - rate) <= rate * 0.005 / result['median_ms'] + 1e-3
        assert result['peak_mem_mib'] >= 0 and result['infer_shape'] == [64, 85]
    assert 0 < results[0]['last_loss'] < 10
    assert json.loads(out.read_text())['results'] == results


def test_benchmark_builds_the_real_ade20k_config():
    """Random weights, no weight file read: the real RN50 recipe's slide inference at 96."""
    model, optim_wrapper, crop = benchmark_denseclip.build(
        os.path.join(ROOT, 'configs/denseclip/denseclip_r50_8xb4-80k_ade20k-512x512.py'), 96,
        torch.device('cpu'))
    assert crop == 96 and model.test_cfg['stride'] == (64, 64)
    assert sum(p.numel() for p in model.parameters()) > 100e6
    batch = benchmark_denseclip.random_batch(1, 96, 128, 150)
    model.eval()
    with torch.no_grad():
        sample = model.test_step(batch)[0]
    assert sample.seg_logits.data.shape == (150, 96, 128)


def test_dist_run_uses_the_repository_venv_without_activation():
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHON', 'VIRTUAL_ENV')}
    env['PATH'] = '/usr/bin:/bin'  # no venv, no pyenv: `python` alone would not do
    result = subprocess.run(['bash', 'tools/dist_run.sh', 'make_toy_data.py', '1', '--help'],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'usage: make_toy_data.py' in result.stdout
