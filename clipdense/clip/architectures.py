"""CLIP architectures: open_clip model names, explicit kwargs, and inference from weights."""
import copy
import math
from typing import Optional

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


def infer_clip_config(state_dict: StateDict) -> dict:
    """Recovers an open_clip-style config from OpenAI-named CLIP weights."""
    try:
        vision = {}
        if 'visual.proj' in state_dict:
            conv1 = state_dict['visual.conv1.weight']
            grid = math.isqrt(state_dict['visual.positional_embedding'].shape[0] - 1)
            vision.update(width=conv1.shape[0], patch_size=conv1.shape[-1],
                          layers=_count_blocks(state_dict, 'visual.transformer.resblocks.'),
                          image_size=grid * conv1.shape[-1])
            embed_dim = state_dict['visual.proj'].shape[1]
        elif 'visual.layer1.0.conv1.weight' in state_dict:
            vision.update(layers=[_count_blocks(state_dict, f'visual.layer{i}.')
                                  for i in range(1, 5)],
                          width=state_dict['visual.conv1.weight'].shape[0] * 2, patch_size=None)
            pos = state_dict.get('visual.attnpool.positional_embedding')
            if pos is not None:
                vision['image_size'] = 32 * math.isqrt(pos.shape[0] - 1)
                embed_dim = state_dict['visual.attnpool.c_proj.weight'].shape[0]
            else:
                embed_dim = state_dict['text_projection'].shape[1]
        else:
            raise KeyError('visual tower')
        text_width = state_dict['ln_final.weight'].shape[0]
        text = dict(context_length=state_dict['positional_embedding'].shape[0],
                    vocab_size=state_dict['token_embedding.weight'].shape[0], width=text_width,
                    heads=text_width // 64,
                    layers=_count_blocks(state_dict, 'transformer.resblocks.'))
    except KeyError as err:
        raise CLIPWeightsError(f'not CLIP weights in OpenAI/open_clip naming (no {err})') from err
    return dict(embed_dim=embed_dim, vision_cfg=vision, text_cfg=text)


def guess_model_name(config: dict) -> Optional[str]:
    """The common open_clip name whose architecture matches ``config``, if any."""
    import open_clip
    keys = ('layers', 'width', 'patch_size')
    for name in _COMMON_MODEL_NAMES:
        known = open_clip.get_model_config(name)
        if known is None or known['embed_dim'] != config['embed_dim']:
            continue
        if all(known['vision_cfg'].get(k) == config['vision_cfg'].get(k) for k in keys) and \
                known['text_cfg']['width'] == config['text_cfg']['width']:
            return name
    return None
