"""Parameters and FLOPs of a config's model, built without weight files (``drop_weight_files``).

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W] [--cfg-options k=v ...]

FLOPs are mmengine's counts (``FlopAnalyzer``, as in ``get_model_complexity_info``: one fused
multiply-add = 1 FLOP; norms and resizing are not counted) of one forward on a ``(1, 3, H, W)``
input in ``mode='tensor'``. The text encoder's output does not depend on the image and is cached at
inference (DenseCLIP's class embeddings, the zero-shot models' text classifier), so its FLOPs are
reported separately (once per vocabulary), and parameters are also given without the text
encoder. Zero-shot models get the config's dataset classes as vocabulary; their per-image count
uses a stand-in classifier of the right shape (its values do not change the FLOPs), and their
text FLOPs are those of one prompt times the number of prompts (synonyms x templates).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from clipdense.apis.runner import DictAction, drop_weight_files, load_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Count parameters and FLOPs of a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs=2, default=[1024, 1024], metavar=('H', 'W'),
                        help='input height and width (default 1024 1024)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.backbone.layers=[3,4,6,3]')
    return parser.parse_args(argv)


def build_model(cfg):
    import clipdense  # noqa: F401  (registers the models)
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    torch.manual_seed(0)
    return MODELS.build(drop_weight_files(cfg.model)).eval()


def count_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def native_attention_flop(inputs, outputs) -> int:
    """``aten::_native_multi_head_attention`` (``nn.MultiheadAttention``'s inference fast path,
    which mmengine does not count): q/k/v and output projections and the two attention
    products, one multiply-add = 1 FLOP, for batch-first ``(B, L, E)`` inputs."""
    from mmengine.analysis.jit_handles import get_shape
    batch, len_q, embed = get_shape(inputs[0])
    len_kv = get_shape(inputs[1])[1]
    return batch * (2 * len_q * embed * embed + 2 * len_kv * embed * embed +
                    2 * len_q * len_kv * embed)


def count_flops(module, inputs: tuple) -> int:
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.set_op_handle('aten::_native_multi_head_attention', native_attention_flop)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analyzer.total()


class _DetectorForward(torch.nn.Module):
    """A detector's tensor-mode forward with the image metas its heads read (a two-stage
    detector's RPN needs them; its RoI head then runs on the RPN's proposals, at most
    ``test_cfg.rpn.max_per_img``)."""

    def __init__(self, detector, height: int, width: int):
        super().__init__()
        self.detector, self.shape = detector, (height, width)

    def forward(self, inputs):
        from mmdet.structures import DetDataSample
        meta = dict(img_shape=self.shape, pad_shape=self.shape, batch_input_shape=self.shape,
                    ori_shape=self.shape, scale_factor=(1.0, 1.0))
        return self.detector._forward(inputs, [DetDataSample(metainfo=meta)])


def with_image_metas(model, height: int, width: int) -> torch.nn.Module:
    """The module whose forward is counted: detectors get image metas, others run as they are."""
    from mmdet.models.detectors import BaseDetector
    return _DetectorForward(model, height, width) if isinstance(model, BaseDetector) else model


class _EncodeText(torch.nn.Module):
    """``encode_text`` of a CLIP text tower as a module's forward (for the FLOP counter)."""

    def __init__(self, clip):
        super().__init__()
        self.clip = clip

    def forward(self, token_ids):
        return self.clip.encode_text(token_ids)


def text_complexity(model) -> dict:
    """Parameters and FLOPs (once per vocabulary) of the text encoder; caches its output on the
    model so the per-image count excludes it. Empty for models without a text encoder."""
    text_encoder = getattr(model, 'text_encoder', None)
    if text_encoder is None:
        return {}
    result = dict(text_encoder_params=count_params(text_encoder))
    if hasattr(model, 'text_embeddings') and hasattr(model, 'contexts'):  # DenseCLIP
        model.text_embeddings()
        result['text_encoder_flops'] = count_flops(text_encoder, (model.texts, model.contexts))
    elif hasattr(model, 'text_classifier'):  # zero-shot: every synonym x template prompt
        from clipdense.clip import CLIPTokenizer, get_templates
        prompts = sum(map(len, model.vocabulary)) * len(get_templates(model.templates))
        one_prompt = CLIPTokenizer()(['a photo of a thing.'])
        result['text_encoder_flops'] = prompts * count_flops(_EncodeText(text_encoder),
                                                             (one_prompt, ))
        classifier = torch.randn(model.num_classes, text_encoder.text_projection.shape[1])
        model.text_classifier = lambda: classifier  # stand-in (see the module docstring)
    return result


def complexity(model, height: int, width: int) -> dict:
    """``params``, ``flops`` (per image) and the text encoder's share (see above)."""
    result = dict(params=count_params(model))
    with torch.no_grad():
        result.update(text_complexity(model))
        result['flops'] = count_flops(with_image_metas(model, height, width),
                                      (torch.randn(1, 3, height, width), ))
    return result


def format_report(name: str, height: int, width: int, result: dict) -> str:
    lines = [f'{name}: input (1, 3, {height}, {width})',
             f'  params: {result["params"] / 1e6:.2f} M']
    if 'text_encoder_flops' in result:
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
    if hasattr(model, 'set_vocabulary') and not getattr(model, 'vocabulary', None):
        from clipdense.apis.inference import config_classes
        model.set_vocabulary(list(config_classes(cfg) or ()))
    height, width = args.shape
    result = complexity(model, height, width)
    print(format_report(os.path.basename(args.config), height, width, result))
    return result


if __name__ == '__main__':
    main()
