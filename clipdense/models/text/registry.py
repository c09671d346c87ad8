"""Where DenseCLIP-style segmentors look up their text encoders.

mmseg 1.2.2 already registers a ``CLIPTextEncoder`` (SAN's, different arguments) in its
``MODELS``. Replacing it (``force=True``) would break mmseg's SAN configs, so clipdense's
``CLIPTextEncoder`` lives in ``TEXT_ENCODERS``, a child of mmseg's ``MODELS``: a name is looked
up here first and then in mmseg's registry. DenseCLIP builds its ``text_encoder`` with
:func:`build_text_encoder`, so ``type='CLIPTextEncoder'`` in a DenseCLIP config gets clipdense's
class while SAN keeps mmseg's.
"""
from mmengine.registry import Registry

from clipdense.registry import SEG_MODELS

TEXT_ENCODERS = Registry('clipdense text encoder', parent=SEG_MODELS, scope='clipdense')


def build_text_encoder(cfg: dict):
    """Builds ``cfg`` with ``type`` resolved in :data:`TEXT_ENCODERS` (then mmseg's MODELS)."""
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    module_class = kind if isinstance(kind, type) else (
        TEXT_ENCODERS.get(kind) if isinstance(kind, str) else None)
    if module_class is None:
        raise KeyError(f'text encoder type {kind!r} is not registered in clipdense or mmseg '
                       '(expected e.g. CLIPTextContextEncoder or CLIPTextEncoder)')
    return module_class(**cfg)
