"""Trains / evaluates a scene network on image-level labels through ``tools/train.py``."""
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from clipdense.registry import DET_MODELS, build_in_own_scope


@DET_MODELS.register_module()
class SceneClassifier(BaseModel):
    """``network`` (e.g. :class:`~clipdense.models.classifiers.scene_cnn.SceneCNN`) trained with
    cross-entropy on ``metainfo['scene_label']`` (see ``SceneLabelDataset``).

    ``predict`` sets ``pred_scene_scores`` (C,) softmax probabilities and ``pred_scene_label`` on
    each data sample (``SceneAccuracy`` reads them). The state dict is ``network.*``; BIM's
    ``SceneCNNScorer`` loads that prefix from the checkpoint.
    """

    def __init__(self, network: dict, label_smoothing: float = 0.0,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.network = build_in_own_scope(DET_MODELS, network)
        self.label_smoothing = label_smoothing

    @staticmethod
    def scene_labels(data_samples: List) -> torch.Tensor:
        missing = [i for i, s in enumerate(data_samples) if 'scene_label' not in s.metainfo]
        if missing:
            raise KeyError(f'data samples {missing} have no scene_label in their metainfo: pack '
                           "with PackDetInputs(meta_keys=(..., 'scene_label'))")
        return torch.tensor([int(s.metainfo['scene_label']) for s in data_samples])

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        logits = self.network(inputs)
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            labels = self.scene_labels(data_samples).to(logits.device)
            loss = F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
            accuracy = (logits.argmax(1) == labels).float().mean() * 100
            return dict(loss_scene=loss, acc_scene=accuracy.detach())
        if mode == 'predict':
            probs = logits.softmax(dim=1)
            for sample, scores in zip(data_samples, probs):
                sample.pred_scene_scores = scores.detach()
                sample.pred_scene_label = int(scores.argmax())
            return data_samples
        raise ValueError(f'SceneClassifier: unknown mode {mode!r} (tensor, loss, predict)')
