"""CLIP architectures: open_clip model names, explicit kwargs, and inference from weights."""
import copy
import math
from typing import List, Optional, Tuple

from .weights import CLIPWeightsError, StateDict

# Names checked first when recognising an architecture from its weights (error messages).
_COMMON_MODEL_NAMES = ('RN50', 'RN101', 'RN50x4', 'RN50x16', 'RN50x64', 'ViT-B-32', 'ViT-B-16',
                       'ViT-L-14', 'ViT-L-14-336', 'ViT-H-14')


def get_clip_config(model_name: str) -> dict:
    """open_clip's architecture config (``embed_dim``, ``vision_cfg``, ``text_cfg``) by name."""
    import open_clip
    config = open_clip.get_model_config(model_name)
    if config is None:
        known = ', '.join(_COMMON_MODEL_NAMES)
        raise ValueError(f'unknown CLIP model name {model_name!r}; known names include {known} '
                         '(open_clip.list_models() lists all), or pass explicit architecture '
                         'kwargs instead of a name')
    return copy.deepcopy(config)


def _count_blocks(state_dict: StateDict, prefix: str) -> int:
    indices = {int(k[len(prefix):].split('.')[0]) for k in state_dict if k.startswith(prefix)}
    return max(indices) + 1 if indices else 0


def _vision_config(state_dict: StateDict) -> Optional[Tuple[dict, Optional[int]]]:
    """``(vision_cfg, embed_dim or None)`` from ``visual.*`` weights, or None without them."""
    if 'visual.proj' in state_dict:
        conv1 = state_dict['visual.conv1.weight']
        grid = math.isqrt(state_dict['visual.positional_embedding'].shape[0] - 1)
        return dict(width=conv1.shape[0], patch_size=conv1.shape[-1],
                    layers=_count_blocks(state_dict, 'visual.transformer.resblocks.'),
                    image_size=grid * conv1.shape[-1]), state_dict['visual.proj'].shape[1]
    if 'visual.layer1.0.conv1.weight' in state_dict:
        vision = dict(layers=[_count_blocks(state_dict, f'visual.layer{i}.') for i in range(1, 5)],
                      width=state_dict['visual.conv1.weight'].shape[0] * 2, patch_size=None)
        pos = state_dict.get('visual.attnpool.positional_embedding')
        if pos is None:
            return vision, None
        vision['image_size'] = 32 * math.isqrt(pos.shape[0] - 1)
        return vision, state_dict['visual.attnpool.c_proj.weight'].shape[0]
    return None


def _text_config(state_dict: StateDict) -> Optional[dict]:
    """The text tower's config from root-level OpenAI names, or None without them."""
    if 'ln_final.weight' not in state_dict or 'token_embedding.weight' not in state_dict:
        return None
    width = state_dict['ln_final.weight'].shape[0]
    return dict(context_length=state_dict['positional_embedding'].shape[0],
                vocab_size=state_dict['token_embedding.weight'].shape[0], width=width,
                heads=width // 64, layers=_count_blocks(state_dict, 'transformer.resblocks.'))


def infer_clip_config(state_dict: StateDict) -> dict:
    """Recovers an open_clip-style config from OpenAI-named CLIP weights."""
    try:
        vision = _vision_config(state_dict)
        if vision is None:
            raise KeyError('visual tower')
        text = _text_config(state_dict)
        if text is None:
            raise KeyError('ln_final.weight')
        embed_dim = vision[1] if vision[1] is not None else state_dict['text_projection'].shape[1]
    except KeyError as err:
        raise CLIPWeightsError(f'not CLIP weights in OpenAI/open_clip naming (no {err})') from err
    return dict(embed_dim=embed_dim, vision_cfg=vision[0], text_cfg=text)


def infer_partial_clip_config(state_dict: StateDict) -> dict:
    """What the weights of one tower, or of both, tell about the architecture: a dict with
    ``vision_cfg`` and/or ``text_cfg`` and ``embed_dim`` where known (empty when neither
    tower is recognised). Vision weights with their ``visual.`` prefix stripped (as a vision
    tower module names them) are recognised too."""
    if not any(k.startswith('visual.') for k in state_dict) and \
            ('conv1.weight' in state_dict or 'class_embedding' in state_dict):
        state_dict = {f'visual.{k}': v for k, v in state_dict.items()}
    config = {}
    try:
        vision = _vision_config(state_dict)
        text = _text_config(state_dict)
    except (KeyError, IndexError):
        return config
    if vision is not None:
        config['vision_cfg'] = vision[0]
        if vision[1] is not None:
            config['embed_dim'] = vision[1]
    if text is not None:
        config['text_cfg'] = text
        if 'text_projection' in state_dict:
            config['embed_dim'] = state_dict['text_projection'].shape[1]
    return config


def guess_model_names(config: dict) -> List[str]:
    """The common open_clip names whose architecture agrees with every part of a (possibly
    partial, see :func:`infer_partial_clip_config`) config."""
    import open_clip
    keys = ('layers', 'width', 'patch_size')
    names = []
    for name in _COMMON_MODEL_NAMES:
        known = open_clip.get_model_config(name)
        if known is None or config.get('embed_dim', known['embed_dim']) != known['embed_dim']:
            continue
        vision, text = config.get('vision_cfg'), config.get('text_cfg')
        if vision is not None and any(known['vision_cfg'].get(k) != vision.get(k) for k in keys):
            continue
        if text is not None and (known['text_cfg']['width'] != text['width'] or
                                 known['text_cfg'].get('layers', 12) != text['layers']):
            continue
        if vision is not None or text is not None:
            names.append(name)
    return names


def guess_model_name(config: dict) -> Optional[str]:
    """The common open_clip name whose architecture matches ``config``, if any."""
    names = guess_model_names(config)
    return names[0] if names else None
