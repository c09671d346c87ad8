"""Scene scorers of BIRDet's BIM: which scene descriptors describe an image.

A scorer maps a batch to logits over the scene vocabulary ``(B, S)``:

- :class:`ZeroShotSceneScorer`: ``logit_scale * cos(CLIP image embedding, descriptor text
  embedding)`` (no training; the CLIP image embedding is the detector's whole-image embedding);
- :class:`SceneCNNScorer`: a small CNN scene classifier (the paper's choice) trained on
  image-level scene labels with ``tools/train.py`` (``SceneClassifier``) and loaded here; frozen
  unless ``trainable=True`` (then BIM's detection loss reaches it through the top-K weights).
"""
from typing import Optional

import torch
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import load_state_dict
from torch import Tensor

from clipdense.registry import build_in_own_scope


class BaseSceneScorer(BaseModule):
    """``forward(image_embeds (B, E) | None, inputs (B, 3, H, W), descriptor_embeds (S, E) |
    None) -> (B, S)`` logits. ``uses_image_embeds`` / ``uses_descriptor_embeds`` tell BIM which
    inputs to prepare; ``num_classes`` (or None) is checked against the vocabulary size."""
    uses_image_embeds = False
    uses_descriptor_embeds = False
    num_classes: Optional[int] = None


@MODELS.register_module()
class ZeroShotSceneScorer(BaseSceneScorer):
    """CLIP zero-shot scene scores: ``logit_scale * image_embeds @ descriptor_embeds.T`` (both
    L2-normalised; CLIP's temperature 100 by default)."""
    uses_image_embeds = True
    uses_descriptor_embeds = True

    def __init__(self, logit_scale: float = 100.0, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.logit_scale = logit_scale

    def forward(self, image_embeds: Tensor, inputs: Tensor, descriptor_embeds: Tensor) -> Tensor:
        if image_embeds is None:
            raise ValueError('ZeroShotSceneScorer needs the CLIP image embeddings of the batch')
        return self.logit_scale * image_embeds @ descriptor_embeds.to(image_embeds).t()


@MODELS.register_module()
class SceneCNNScorer(BaseSceneScorer):
    """A scene CNN's logits on the preprocessed images.

    Args:
        network: the CNN config (e.g. ``dict(type='SceneCNN', num_classes=S)``); class ``i`` must
            be descriptor ``i`` of the scene vocabulary.
        checkpoint: a file with the trained network: a ``SceneClassifier`` checkpoint of
            ``tools/train.py`` (keys ``network.*``) or the network's own state dict. Read with
            mmengine's checkpoint reader (clipdense's weights-only loader).
        trainable: False (default) freezes the CNN (no gradients, BatchNorm in eval mode).
    """

    def __init__(self, network: dict, checkpoint: Optional[str] = None,
                 checkpoint_prefix: str = 'network.', trainable: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.network = build_in_own_scope(MODELS, network)
        self.num_classes = getattr(self.network, 'num_classes', None)
        self.checkpoint, self.checkpoint_prefix = checkpoint, checkpoint_prefix
        self.trainable = trainable
        if not trainable:
            self.network.requires_grad_(False)

    def init_weights(self):
        super().init_weights()
        if self.checkpoint:
            self.load_network(self.checkpoint)

    def load_network(self, path: str) -> None:
        """Loads the network from ``path`` (strict: every key must match)."""
        state = CheckpointLoader.load_checkpoint(path, map_location='cpu')
        state = state.get('state_dict', state) if isinstance(state, dict) else state
        if not isinstance(state, dict):
            raise TypeError(f'{path}: expected a checkpoint dict, got {type(state).__name__}')
        prefix = self.checkpoint_prefix
        if prefix and any(key.startswith(prefix) for key in state):
            state = {key[len(prefix):]: value for key, value in state.items()
                     if key.startswith(prefix)}
        expected = set(self.network.state_dict())
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or unexpected:
            raise KeyError(f'{path} does not match the scene network: missing {missing[:5]}, '
                           f'unexpected {unexpected[:5]}')
        load_state_dict(self.network, state, strict=True)

    def train(self, mode: bool = True):
        super().train(mode)
        if not self.trainable:
            self.network.eval()
        return self

    def forward(self, image_embeds: Optional[Tensor], inputs: Tensor,
                descriptor_embeds: Optional[Tensor]) -> Tensor:
        del image_embeds, descriptor_embeds
        if self.trainable:
            return self.network(inputs)
        with torch.no_grad():
            return self.network(inputs)
