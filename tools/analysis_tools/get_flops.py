"""Parameters and FLOPs of a config's model, built without weights (every ``pretrained`` -> None).

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W] [--cfg-options k=v ...]

FLOPs are mmengine's counts (``FlopAnalyzer``, as in ``get_model_complexity_info``: one fused
multiply-add = 1 FLOP; norms and resizing are not counted) of one forward on a ``(1, 3, H, W)``
input in ``mode='tensor'``. DenseCLIP's text encoder output does not depend on the image and is
cached at inference, so its FLOPs are reported separately (once per vocabulary), and parameters
are also given without the text encoder.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from clipdense.apis.runner import DictAction, load_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Count parameters and FLOPs of a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs=2, default=[1024, 1024], metavar=('H', 'W'),
                        help='input height and width (default 1024 1024)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.backbone.layers=[3,4,6,3]')
    return parser.parse_args(argv)


def drop_pretrained(cfg):
    """Sets every ``pretrained`` entry of a (nested) config to None, in place."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'pretrained':
                cfg[key] = None
            else:
                drop_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            drop_pretrained(item)
    return cfg


def build_model(cfg):
    import clipdense  # noqa: F401  (registers the models)
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    torch.manual_seed(0)
    return MODELS.build(drop_pretrained(cfg.model)).eval()


def count_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_flops(module, inputs: tuple) -> int:
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analyzer.total()


def complexity(model, height: int, width: int) -> dict:
    """``params``, ``flops`` (per image) and, for DenseCLIP, the text encoder's share."""
    result = dict(params=count_params(model))
    text_encoder = getattr(model, 'text_encoder', None)
    with torch.no_grad():
        if text_encoder is not None:
            model.text_embeddings()  # cached: the per-image count excludes the text encoder
            result.update(text_encoder_params=count_params(text_encoder),
                          text_encoder_flops=count_flops(text_encoder,
                                                         (model.texts, model.contexts)))
        result['flops'] = count_flops(model, (torch.randn(1, 3, height, width), ))
    return result


def format_report(name: str, height: int, width: int, result: dict) -> str:
    lines = [f'{name}: input (1, 3, {height}, {width})',
             f'  params: {result["params"] / 1e6:.2f} M']
    if 'text_encoder_params' in result:
        lines += [f'  params without the text encoder: '
                  f'{(result["params"] - result["text_encoder_params"]) / 1e6:.2f} M',
                  f'  FLOPs per image (text embeddings cached): {result["flops"] / 1e9:.2f} G',
                  f'  FLOPs of the text encoder (once per vocabulary): '
                  f'{result["text_encoder_flops"] / 1e9:.2f} G',
                  f'  FLOPs including the text encoder: '
                  f'{(result["flops"] + result["text_encoder_flops"]) / 1e9:.2f} G']
    else:
        lines.append(f'  FLOPs: {result["flops"] / 1e9:.2f} G')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model = build_model(cfg)
    height, width = args.shape
    result = complexity(model, height, width)
    print(format_report(os.path.basename(args.config), height, width, result))
    return result


if __name__ == '__main__':
    main()
