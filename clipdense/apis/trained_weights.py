"""Trained weights for evaluation and inference: required unless the model needs none, and
loaded strictly.

A model whose every weight comes from files its config names (zero-shot MaskCLIP, CLIP-DINOiser
with released light layers) declares it with a ``weights_from_config`` attribute or property
that is True; every other model is evaluated only with a trained checkpoint, so a forgotten
CHECKPOINT never scores a randomly initialised model.
"""
import re
from typing import Optional

from torch import nn

from clipdense.utils import load_checkpoint_file


class TrainedWeightsError(ValueError):
    """Trained weights are missing, or a checkpoint does not fit the model."""


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a DDP / mmengine wrapper."""
    return model.module if hasattr(model, 'module') and isinstance(model.module, nn.Module) \
        else model


def weights_from_config(model: nn.Module) -> bool:
    """True when the model declares that its config provides all its weights."""
    return bool(getattr(unwrap_model(model), 'weights_from_config', False))


def require_trained_weights(model: nn.Module, checkpoint: Optional[str], config_name: str) -> None:
    """Raises unless a checkpoint is given or the model needs none."""
    if checkpoint is None and not weights_from_config(model):
        raise TrainedWeightsError(
            f'{config_name}: {type(unwrap_model(model)).__name__} needs trained weights, and '
            'no checkpoint was given (CHECKPOINT argument, --checkpoint, or load_from in the '
            'config); without them it would be evaluated with random weights. Only zero-shot '
            'models whose weights all come from the config (weights_from_config=True) run '
            'without one.')


def _summarise(keys, limit: int = 12) -> str:
    keys = list(keys)
    shown = ', '.join(keys[:limit])
    return f'{len(keys)}: {shown}' + (f', ... ({len(keys) - limit} more)' if len(keys) > limit
                                      else '')


def load_trained_checkpoint(model: nn.Module, path: str, map_location='cpu') -> dict:
    """Loads ``path`` (weights-only) into ``model`` strictly; returns the checkpoint dict.

    Keys the model's own load hooks forgive (e.g. frozen CLIP weights a zero-shot model reads
    from its config's files) may be absent; any other missing or unexpected key, or a shape
    mismatch, raises :class:`TrainedWeightsError` naming them.
    """
    checkpoint = load_checkpoint_file(path, map_location=map_location)
    if not isinstance(checkpoint, dict):
        raise TrainedWeightsError(f'{path}: expected a checkpoint dict, got '
                                  f'{type(checkpoint).__name__}')
    state_dict = checkpoint.get('state_dict', checkpoint)
    state_dict = {re.sub(r'^module\.', '', k) if isinstance(k, str) else k: v
                  for k, v in state_dict.items()}
    target = unwrap_model(model)
    own = target.state_dict()
    mismatched = [f'{key} {tuple(value.shape)} vs model {tuple(own[key].shape)}'
                  for key, value in state_dict.items()
                  if key in own and hasattr(value, 'shape') and value.shape != own[key].shape]
    fitting = {k: v for k, v in state_dict.items()
               if not (k in own and hasattr(v, 'shape') and v.shape != own[k].shape)}
    try:
        result = target.load_state_dict(fitting, strict=False)
    except RuntimeError as err:  # shape mismatches of keys the model's load hooks renamed
        raise TrainedWeightsError(f'{path} does not fit {type(target).__name__}: '
                                  f'{" ".join(str(err).split())[:2000]}') from err
    missing = [k for k in result.missing_keys if not k.endswith('num_batches_tracked')]
    parts = [f'missing keys ({_summarise(missing)})' if missing else '',
             f'unexpected keys ({_summarise(result.unexpected_keys)})'
             if result.unexpected_keys else '',
             f'shape mismatches ({_summarise(mismatched)})' if mismatched else '']
    if any(parts):
        raise TrainedWeightsError(
            f'{path} does not fit {type(target).__name__}: ' + '; '.join(p for p in parts if p) +
            '. Is it a checkpoint of this config\'s model?')
    return checkpoint
