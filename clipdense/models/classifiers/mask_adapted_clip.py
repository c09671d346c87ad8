"""Adapting CLIP to masked region crops (OVSeg's CLIP training), driven by ``tools/train.py``.

Two recipes on (region crop, crop mask, text) pairs:

* ``train_mode='full'``: the whole image tower learns, the text tower is locked (OVSeg: AdamW
  lr 5e-6, cosine, 5 epochs, crops without mask prompts);
* ``train_mode='mask_prompt'``: only ``mask_embedding`` learns (OVSeg: init N(0, 0.02), AdamW
  lr 0.05, weight decay 0, cosine, 5 epochs, crop masks fed as prompts).

Loss: contrastive cross-entropy of the L2-normalised region embeddings against the texts of the
batch. ``loss_type='batch_classes'`` scores each region against the batch's distinct texts
(duplicates are one class, so two regions of the same noun are not each other's negatives);
``loss_type='clip'`` is open_clip's symmetric ``ClipLoss`` over the per-sample texts, which the
original training used. Evaluation: region accuracy over the dataset's vocabulary with the
classifier's templates (ViLD-14) and temperature (100).
"""
import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import nn

from clipdense.clip import parse_class_names
from clipdense.registry import SEG_MODELS, build_in_own_scope, register_model

TRAIN_MODES = ('full', 'mask_prompt', 'frozen')
LOSS_TYPES = ('batch_classes', 'clip')
MAX_LOG_SCALE = math.log(100)  # open_clip clamps the learnt temperature at 100


@register_model(SEG_MODELS)
class MaskAdaptedCLIP(BaseModel):
    """Trains a :class:`RegionCLIPClassifier`'s image tower (or only its mask prompts).

    Args:
        classifier: the ``RegionCLIPClassifier`` config (tower, text tower, templates); its
            ``mask_prompt_fwd`` decides whether crop masks are fed as prompts.
        train_mode: ``'full'`` (image tower), ``'mask_prompt'`` (``mask_embedding`` only) or
            ``'frozen'`` (evaluation only).
        train_templates: prompt templates of the training texts; ``('{}',)`` encodes the bare
            noun as OVSeg's training did.
        loss_type: ``'batch_classes'`` or ``'clip'`` (see the module docstring).
        logit_scale: training temperature; None uses the CLIP's own ``logit_scale.exp()``.
        train_logit_scale: learn the temperature too (the original did; clamped at 100).
        class_names: evaluation vocabulary; None takes the dataset's (``DatasetVocabularyHook``
            or ``set_vocabulary``).
        save_frozen_weights: keep frozen weights in checkpoints (off: they come from the CLIP
            file, so mask-prompt checkpoints hold only the prompts).
    """

    def __init__(self, classifier: dict, train_mode: str = 'mask_prompt',
                 train_templates: Sequence[str] = ('{}', ), loss_type: str = 'batch_classes',
                 logit_scale: Optional[float] = None, train_logit_scale: bool = False,
                 class_names: Optional[Sequence] = None, save_frozen_weights: bool = False,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if train_mode not in TRAIN_MODES:
            raise ValueError(f'train_mode must be one of {TRAIN_MODES}, got {train_mode!r}')
        if loss_type not in LOSS_TYPES:
            raise ValueError(f'loss_type must be one of {LOSS_TYPES}, got {loss_type!r}')
        self.classifier = build_in_own_scope(
            SEG_MODELS, dict(dict(type='RegionCLIPClassifier'), **classifier))
        self._clip_from_file = bool(classifier.get('clip', {}).get('pretrained'))
        tower = self.classifier.visual
        if train_mode == 'mask_prompt' and tower.mask_embedding is None:
            raise ValueError("train_mode='mask_prompt' needs classifier.clip.mask_prompt_depth > 0")
        if train_mode == 'mask_prompt' and not self.classifier.mask_prompt_fwd:
            raise ValueError("train_mode='mask_prompt' needs classifier.mask_prompt_fwd=True "
                             '(the prompts only act on crops with masks)')
        self.train_mode, self.loss_type = train_mode, loss_type
        self.train_templates = list(train_templates)
        if logit_scale is None:
            logit_scale = float(self.classifier.text_encoder.logit_scale.detach().exp())
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(logit_scale)),
                                            requires_grad=train_logit_scale)
        self.requires_grad_(False)
        if train_mode == 'full':
            tower.requires_grad_(True)
        elif train_mode == 'mask_prompt':
            tower.mask_embedding.requires_grad_(True)
        self.log_logit_scale.requires_grad_(train_logit_scale)
        self.save_frozen_weights = save_frozen_weights
        self.frozen_names = {name for name, p in self.named_parameters() if not p.requires_grad}
        self.vocabulary: Optional[List[List[str]]] = None
        if class_names is not None:
            self.set_vocabulary(class_names)
        self._register_state_dict_hook(_drop_frozen_weights)
        self.register_load_state_dict_post_hook(_forgive_missing_frozen_weights)

    @property
    def weights_from_config(self) -> bool:
        """True when the CLIP comes from a file the config names, so evaluation needs no
        checkpoint (e.g. region accuracy of released OVSeg weights); random towers need one."""
        return self._clip_from_file

    # --------------------------------------------------------------------------- vocabulary
    def set_vocabulary(self, vocabulary: Sequence) -> None:
        """Evaluation classes (names, ``'a; b'`` synonym strings or lists)."""
        self.vocabulary = parse_class_names(vocabulary)

    def trainable_parameters(self) -> Dict[str, nn.Parameter]:
        return {name: p for name, p in self.named_parameters() if p.requires_grad}

    # ------------------------------------------------------------------------------ forward
    def forward(self, inputs, data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        crops = torch.stack(inputs) if isinstance(inputs, (list, tuple)) else inputs
        masks = None
        if self.classifier.mask_prompt_fwd:
            if data_samples is None:
                raise ValueError('the tower takes mask prompts: data_samples with region_mask '
                                 'are needed')
            masks = torch.stack([s.region_mask for s in data_samples]).to(crops.device)
        embeds = self.classifier.embed_crops(crops, masks)
        if mode == 'tensor':
            return embeds
        if mode == 'loss':
            return self.loss(embeds, [s.metainfo['text'] for s in data_samples])
        if mode == 'predict':
            return self.predict(embeds, data_samples)
        raise ValueError(f'unknown mode {mode!r}')

    def text_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        """``(T, E)`` L2-normalised embeddings of training texts (locked text tower)."""
        return self.classifier.encode_vocabulary([[t] for t in texts], self.train_templates)

    def loss(self, embeds: torch.Tensor, texts: Sequence[str]) -> Dict[str, torch.Tensor]:
        """Contrastive loss of region embeddings ``(B, E)`` against their texts."""
        with torch.no_grad():
            self.log_logit_scale.clamp_(0, MAX_LOG_SCALE)
        scale = self.log_logit_scale.exp()
        distinct = list(dict.fromkeys(texts))
        text = self.text_embeddings(distinct)
        owner = torch.tensor([distinct.index(t) for t in texts], device=embeds.device)
        if self.loss_type == 'clip':  # one text per sample, duplicates included
            logits = scale * embeds @ text[owner].T
            target = torch.arange(len(texts), device=embeds.device)
            loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        else:
            logits, target = scale * embeds @ text.T, owner
            loss = F.cross_entropy(logits, target)
        accuracy = (logits.argmax(dim=1) == target).float().mean()
        return dict(loss_region_text=loss, acc_region_text=accuracy.detach(),
                    logit_scale=scale.detach())

    def predict(self, embeds: torch.Tensor,
                data_samples: Optional[List[BaseDataElement]] = None) -> List[BaseDataElement]:
        """Class probabilities over the vocabulary: ``pred_label`` and ``pred_score`` (C,)."""
        if not self.vocabulary:
            raise ValueError('no vocabulary: set model.class_names, use DatasetVocabularyHook '
                             'or call set_vocabulary()')
        probs = self.classifier.probabilities(embeds,
                                              self.classifier.encode_vocabulary(self.vocabulary))
        samples = data_samples or [BaseDataElement() for _ in range(len(embeds))]
        for sample, prob in zip(samples, probs):
            sample.set_field(prob, 'pred_score')
            sample.set_field(int(prob.argmax()), 'pred_label', field_type='metainfo')
        return samples

    def train(self, mode: bool = True):
        super().train(mode)
        self.classifier.text_encoder.eval()
        if self.train_mode != 'full':
            self.classifier.visual.eval()  # frozen tower: no dropout / patch dropout
        return self


def _drop_frozen_weights(module, state_dict, prefix, local_metadata):
    """State-dict hook: frozen weights come from the CLIP file (unless saved explicitly)."""
    if not module.save_frozen_weights:
        for name in module.frozen_names:
            state_dict.pop(prefix + name, None)
    return state_dict


def _forgive_missing_frozen_weights(module, incompatible_keys):
    """Load post-hook: checkpoints without the frozen weights are complete."""
    missing = incompatible_keys.missing_keys
    missing[:] = [k for k in missing
                  if not any(k == name or k.endswith('.' + name) for name in module.frozen_names)]
