"""F-VLM (Kuo et al., ICLR 2023): open-vocabulary detection upon a frozen CLIP.

A frozen CLIP ResNet image tower is the backbone of a two-stage detector (FPN, RPN, box and
optional mask heads) trained on base classes only; boxes are classified by the cosine of their
region embeddings with the CLIP text embeddings of the vocabulary plus a background embedding.
At test time each box also gets a VLM score from the frozen CLIP itself (RoIAlign on its last
stage + its attention pool), and the two are combined by a geometric ensemble. Any vocabulary
works at test time (``set_vocabulary``). Details and sources: ``docs/fvlm.md``.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmdet.models.detectors import TwoStageDetector
from mmdet.registry import MODELS
from torch import Tensor

from clipdense.clip import (TextClassifierCache, build_text_classifier, module_fingerprint,
                            parse_class_names)
from clipdense.datasets.ov_coco import named_vocabulary
from clipdense.models.heads.fvlm_roi_head import RegionClassifier, clip_attention_pool
from clipdense.models.text import build_text_encoder

Vocabulary = Sequence[Union[str, Sequence[str]]]


def resolve_vocabulary(vocabulary: Union[str, Vocabulary]) -> List[List[str]]:
    """Synonym lists of a vocabulary given as class names (``'a; b'`` strings or lists) or as
    the name of a registered class list (``'ov_coco'``, ``'ov_coco_base'``, ``'coco'``, ...)."""
    if isinstance(vocabulary, str):
        vocabulary = named_vocabulary(vocabulary)
    return parse_class_names(vocabulary)


@MODELS.register_module()
class FVLM(TwoStageDetector):
    """F-VLM detector.

    Args:
        backbone: the CLIP image tower with its attention pool, e.g.
            ``dict(type='CLIPResNetWithAttention', model_name='RN50', heads=32, pretrained=...)``
            (pass OpenAI's head count explicitly: 32 for RN50/RN101, 40 for RN50x4). It is
            frozen: no gradient, BatchNorm statistics fixed, weights as loaded.
        neck, rpn_head, roi_head: the trained detector head (``FVLMFPN``, ``FVLMRPNHead``,
            ``FVLMRoIHead`` with an ``FVLMBBoxHead``).
        text_encoder: clipdense ``CLIPTextEncoder`` config (the same CLIP's text tower; frozen).
        base_class_names: the training vocabulary, in the training dataset's label order.
        class_names: the default test vocabulary, in the test dataset's label order (default:
            the base classes). Entries may be synonym lists or ``'a; b'`` strings; either
            argument may also name a registered list (``'ov_coco_base'``, ``'ov_coco'``,
            ``'coco'``, ``'toy_ov_base'``, ``'toy_coco'``).
        templates: prompt templates of the text classifier (F-VLM: CLIP's 80 ImageNet ones).
        text_cache_dir: optional disk cache of text classifiers (TextClassifierCache).
        vlm_scores: combine the detector scores with the frozen CLIP's at test time (F-VLM);
            False keeps the detector's scores alone.
    """

    def __init__(self, backbone: dict, neck: dict, rpn_head: dict, roi_head: dict,
                 text_encoder: dict, base_class_names: Union[str, Vocabulary, None] = None,
                 class_names: Union[str, Vocabulary, None] = None, templates='imagenet80',
                 text_cache_dir: Optional[str] = None, vlm_scores: bool = True,
                 train_cfg=None, test_cfg=None, data_preprocessor=None, init_cfg=None):
        if base_class_names is None:
            raise ValueError('FVLM needs base_class_names: the training classes in the training '
                             "dataset's label order (e.g. 'ov_coco_base')")
        super().__init__(backbone=backbone, neck=neck, rpn_head=rpn_head, roi_head=roi_head,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not hasattr(self.backbone, 'attnpool'):
            raise TypeError('FVLM needs a CLIP image tower with its attention pool (e.g. '
                            f'CLIPResNetWithAttention), got {type(self.backbone).__name__}')
        self.text_encoder = build_text_encoder(text_encoder)
        self.base_class_names = resolve_vocabulary(base_class_names)
        self.class_names = resolve_vocabulary(class_names or base_class_names)
        self.templates = templates
        self.text_cache = TextClassifierCache(text_cache_dir) if text_cache_dir else None
        self.vlm_scores = vlm_scores
        self.vocabulary: Optional[List[List[str]]] = None
        self._text_classifiers = {}
        for frozen in (self.backbone, self.text_encoder):
            frozen.requires_grad_(False)
        # new weights (checkpoint, init_weights) invalidate the cached text classifiers
        self._register_load_state_dict_pre_hook(self._clear_texts)

    # -- frozen CLIP -------------------------------------------------------------------------
    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()
        self.text_encoder.eval()
        return self

    def init_weights(self) -> None:
        super().init_weights()
        self._clear_texts()

    def _clear_texts(self, *hook_args) -> None:
        self._text_classifiers = {}

    def clip_stages(self, batch_inputs: Tensor) -> List[Tensor]:
        """The frozen CLIP's four stage maps of ``(B, 3, H, W)`` (strides 4..32), no gradient."""
        with torch.no_grad():
            return [stage.detach() for stage in self.backbone.forward_stages(batch_inputs)]

    def image_embeddings(self, clip_last: Tensor) -> Tensor:
        """``(B, E)`` L2-normalised CLIP embeddings of whole images from the last stage
        ``(B, C5, h, w)`` (the attention pool with its grid resized to ``(h, w)``)."""
        with torch.no_grad():
            return F.normalize(clip_attention_pool(self.backbone.attnpool, clip_last).float(),
                               dim=-1)

    # -- vocabulary ----------------------------------------------------------------------------
    def set_vocabulary(self, vocabulary: Vocabulary) -> None:
        """Test-time vocabulary: class names or synonym lists, e.g. ``[['cat'], ['dog',
        'puppy']]``; classes with a name among the base classes are scored as base."""
        self.vocabulary = resolve_vocabulary(vocabulary)

    @property
    def test_vocabulary(self) -> List[List[str]]:
        return self.vocabulary or self.class_names

    def base_class_mask(self, vocabulary: Sequence[Sequence[str]]) -> Tensor:
        """``(C,)`` bool: True for classes with a synonym among the training classes."""
        base = {name.lower() for names in self.base_class_names for name in names}
        return torch.tensor([any(n.lower() in base for n in names) for names in vocabulary],
                            dtype=torch.bool)

    def encode_vocabulary(self, vocabulary: Vocabulary) -> Tensor:
        """``(C, E)`` L2-normalised text embeddings (prompt ensemble, synonyms averaged), from
        the frozen text tower; cached in memory (and on disk with ``text_cache_dir``)."""
        synonyms = resolve_vocabulary(vocabulary)
        key = tuple(tuple(names) for names in synonyms)
        device = next(self.text_encoder.parameters()).device
        if key not in self._text_classifiers:
            encoder_id = module_fingerprint(self.text_encoder) if self.text_cache else ''
            self._text_classifiers[key] = build_text_classifier(
                self.text_encoder, synonyms, self.templates, encoder_id=encoder_id,
                cache=self.text_cache, device=device)
        return self._text_classifiers[key].to(device)

    def region_classifier(self, batch_inputs: Tensor, clip_last: Tensor) -> RegionClassifier:
        """The batch's ``[class texts; background]`` classifier (base classes in training, the
        test vocabulary otherwise) and, at test time, what the VLM scores need."""
        vocabulary = self.base_class_names if self.training else self.test_vocabulary
        texts = self.encode_vocabulary(vocabulary)
        background_module = self.roi_head.background
        image_embeds = (self.image_embeddings(clip_last)
                        if background_module.uses_image_embeds else None)
        background = background_module(image_embeds, batch_inputs, self.text_encoder)
        batch = batch_inputs.shape[0]
        classifier = torch.cat([texts.to(background.dtype)[None].expand(batch, -1, -1),
                                background[:, None]], dim=1)
        if self.training or not self.vlm_scores:
            return RegionClassifier(classifier)
        return RegionClassifier(classifier, self.base_class_mask(vocabulary),
                                clip_features=clip_last, clip_pool=self.backbone.attnpool)

    # -- mmdet entry points --------------------------------------------------------------------
    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor]:
        """FPN maps of the frozen CLIP's stages; also hands the batch's classifier to the RoI
        head (``roi_head.regions``), which ``loss``/``predict``/``_forward`` clear afterwards."""
        stages = self.clip_stages(batch_inputs)
        x = self.neck(tuple(stages[i] for i in self.backbone.out_indices))
        self.roi_head.regions = self.region_classifier(batch_inputs, stages[-1])
        return x

    def loss(self, batch_inputs: Tensor, batch_data_samples) -> dict:
        try:
            return super().loss(batch_inputs, batch_data_samples)
        finally:
            self.roi_head.regions = None

    def predict(self, batch_inputs: Tensor, batch_data_samples, rescale: bool = True):
        try:
            return super().predict(batch_inputs, batch_data_samples, rescale=rescale)
        finally:
            self.roi_head.regions = None

    def _forward(self, batch_inputs: Tensor, batch_data_samples=None) -> tuple:
        try:
            return super()._forward(batch_inputs, batch_data_samples)
        finally:
            self.roi_head.regions = None
