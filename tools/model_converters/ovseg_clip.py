"""Mask-adapted CLIP weights -> one OpenAI-named CLIP file (``visual.mask_embedding`` included).

    python tools/model_converters/ovseg_clip.py SRC DST [--base CLIP_FILE]

SRC may be

* a released OVSeg checkpoint (detectron2, e.g. ``ovseg_swinbase_vitL14_ft_mpt.pth``: the CLIP
  under ``model['clip_adapter.clip_model.']``; MaskFormer weights are dropped),
* a checkpoint of OVSeg's open_clip training (``state_dict`` with ``module.`` prefixes),
* a clipdense training checkpoint holding a ``RegionCLIPClassifier`` (``MaskAdaptedCLIP``
  runs, or a segmentor that contains one): ``<prefix>visual.visual.*``,
  ``<prefix>visual.mask_embedding`` and ``<prefix>text_encoder.*`` are renamed. Weights it does
  not hold (frozen ones are not saved by default) come from ``--base``, the CLIP file the run
  started from.

DST is a plain ``torch.save`` dict of tensors (loads with ``weights_only=True``), written
atomically; ``RegionCLIPClassifier``/``MaskPromptCLIPViT`` take it as ``pretrained``. The
released files load directly too; converting them once saves reading the MaskFormer weights.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Optional

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from clipdense.clip import CLIPWeightsError, guess_model_name, infer_clip_config  # noqa: E402
from clipdense.utils import atomic_save  # noqa: E402
from clipdense.models.backbones.mask_prompt_clip_vit import (  # noqa: E402
    MASK_EMBEDDING_KEY, read_mask_adapted_clip_weights)

StateDict = Dict[str, torch.Tensor]
# keys that end a RegionCLIPClassifier's entries: its tower's first layer, its prompts
TOWER_MARKERS = ('visual.visual.conv1.weight', 'visual.mask_embedding')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Convert mask-adapted CLIP weights')
    parser.add_argument('src', help='OVSeg / open_clip / clipdense checkpoint')
    parser.add_argument('dst', help='output CLIP weight file (.pth)')
    parser.add_argument('--base', help='CLIP file supplying weights SRC does not hold')
    return parser.parse_args(argv)


def classifier_prefix(state_dict: StateDict) -> Optional[str]:
    """Where a clipdense ``RegionCLIPClassifier`` sits in a checkpoint, or None."""
    for key in state_dict:
        for marker in TOWER_MARKERS:
            if not key.endswith(marker):
                continue
            prefix = key[:-len(marker)]
            if prefix + 'visual.conv1.weight' not in state_dict:  # not OpenAI naming
                return prefix
    return None


def classifier_weights(state_dict: StateDict) -> Optional[StateDict]:
    """A clipdense ``RegionCLIPClassifier``'s entries renamed to OpenAI naming, or None."""
    prefix = classifier_prefix(state_dict)
    if prefix is None:
        return None
    out = {}
    for key, value in state_dict.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix):]
        if name.startswith('visual.visual.'):
            out[name[len('visual.'):]] = value
        elif name == 'visual.mask_embedding':
            out[MASK_EMBEDDING_KEY] = value
        elif name.startswith('text_encoder.'):
            out[name[len('text_encoder.'):]] = value
    return out


def read_source(path: str) -> StateDict:
    """OpenAI-named weights of any supported SRC."""
    try:
        state_dict = read_mask_adapted_clip_weights(path)
    except CLIPWeightsError as err:
        if not osp.isfile(path):
            raise
        from clipdense.utils import load_checkpoint_file  # weights-only, mmengine allowlist
        try:
            checkpoint = load_checkpoint_file(path, map_location='cpu')
        except Exception:
            raise err from None
        state_dict = checkpoint.get('state_dict', checkpoint)
    renamed = classifier_weights(state_dict)
    return renamed if renamed is not None else state_dict


def convert(src: str, dst: str, base: Optional[str] = None) -> StateDict:
    """Writes DST; returns its state dict."""
    state_dict = read_source(src)
    if base:
        merged = read_mask_adapted_clip_weights(base)
        merged.update(state_dict)
        state_dict = merged
    state_dict = {k: v for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    try:
        config = infer_clip_config(state_dict)
    except CLIPWeightsError as err:
        raise CLIPWeightsError(f'{src} does not hold a complete CLIP ({err}); pass --base with '
                               'the CLIP file the model was trained from') from err
    if not config['vision_cfg'].get('patch_size'):
        raise CLIPWeightsError(f'{src} holds a ResNet CLIP; mask prompts need a ViT')
    atomic_save(dst, lambda f: torch.save({k: v.contiguous() for k, v in state_dict.items()}, f))
    return state_dict


def describe(state_dict: StateDict) -> str:
    config = infer_clip_config(state_dict)
    vision = config['vision_cfg']
    prompts = state_dict.get(MASK_EMBEDDING_KEY)
    return (f'{guess_model_name(config) or "custom ViT"} (width {vision["width"]}, patch '
            f'{vision["patch_size"]}, {vision["layers"]} layers, input {vision["image_size"]}); '
            'mask prompts ' + (f'{tuple(prompts.shape)}' if prompts is not None else 'none'))


def main(argv=None):
    args = parse_args(argv)
    state_dict = convert(args.src, args.dst, args.base)
    print(f'wrote {len(state_dict)} tensors to {args.dst}: {describe(state_dict)}')


if __name__ == '__main__':
    sys.exit(main())
