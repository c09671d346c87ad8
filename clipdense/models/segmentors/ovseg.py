"""OVSeg: class-agnostic mask proposals classified by a (mask-adapted) CLIP, ensembled.

    image -> backbone (R101c / Swin-B) -> OVSegMaskFormerHead: Q proposals with
             class logits (Q, C + 1) against the vocabulary's text embeddings + no-object,
             mask logits (Q, h, w) -> upsampled to the padded input, cropped to the image
          -> sigmoid masks binarised at mask_threshold
          -> RegionCLIPClassifier.classify: all Q regions of the image in ONE call
             (one crop launch, batched tower) -> p_clip (Q, C), empty (Q,)
          -> p = p_mf^(1 - lambda) * p_clip^lambda, p_mf = softmax over C + 1 with the
             no-object column dropped (not renormalised), p_clip = 1 for empty masks
          -> semantic map sum_q p[q, c] * sigmoid(mask_q)  (C, H, W)

``ensemble_weight`` (lambda): 0 is MaskFormer alone (stage 2 skipped; the original's
``CLIP_ENSEMBLE: False``), 1 is CLIP alone (the original's CLIP-only branch: masks that are empty
after binarisation are left out), in between the ensemble. External mask proposals (e.g. SAM's,
see ``LoadMaskProposals``) replace stage 1 and are classified by CLIP alone.
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.models.segmentors import EncoderDecoder

from clipdense.clip import parse_class_names
from clipdense.registry import SEG_MODELS, register_model

CLIP_PREFIX = 'clip_classifier.'


def maskformer_class_probs(class_logits: torch.Tensor) -> torch.Tensor:
    """``(Q, C + 1)`` logits -> ``(Q, C)``: softmax over all ``C + 1`` columns, then the
    no-object column (last) dropped; rows are not renormalised."""
    return class_logits.float().softmax(dim=-1)[..., :-1]


def ensemble_class_probs(class_logits: torch.Tensor, clip_probs: torch.Tensor,
                         empty: torch.Tensor, weight: float) -> torch.Tensor:
    """OVSeg's geometric ensemble ``p_mf^(1 - weight) * p_clip^weight`` ``(Q, C)``.

    Args:
        class_logits: MaskFormer logits ``(Q, C + 1)``, no-object last.
        clip_probs: CLIP probabilities ``(Q, C)``.
        empty: ``(Q,)`` bool, masks empty after binarisation: their ``p_clip`` is 1.
        weight: lambda in [0, 1].
    """
    p_mf = maskformer_class_probs(class_logits)
    if clip_probs.shape != p_mf.shape:
        raise ValueError(f'CLIP probabilities {tuple(clip_probs.shape)} do not match the '
                         f'MaskFormer ones {tuple(p_mf.shape)} (Q, C)')
    p_clip = clip_probs.float().masked_fill(empty.bool()[:, None], 1.0)
    return p_mf.pow(1.0 - weight) * p_clip.pow(weight)


def semantic_map(class_probs: torch.Tensor, mask_probs: torch.Tensor) -> torch.Tensor:
    """``sum_q class_probs[q, c] * mask_probs[q]``: ``(Q, C)`` + ``(Q, H, W)`` -> ``(C, H, W)``."""
    if class_probs.shape[0] != mask_probs.shape[0]:
        raise ValueError(f'{class_probs.shape[0]} class rows for {mask_probs.shape[0]} masks')
    return torch.einsum('qc,qhw->chw', class_probs.float(), mask_probs.float())


@register_model(SEG_MODELS)
class OVSeg(EncoderDecoder):
    """The two-stage open-vocabulary segmentor.

    Args:
        backbone / decode_head / neck: mmseg configs; ``decode_head`` is an
            :class:`OVSegMaskFormerHead`.
        clip_classifier: :class:`RegionCLIPClassifier` config (its text tower also gives the
            proposal network's text embeddings: one text path).
        class_names: inference vocabulary (names, ``'a; b'`` synonyms or lists); None: set by
            ``set_vocabulary`` / ``tools/infer.py`` or the dataset (``DatasetVocabularyHook``).
        train_class_names: the training dataset's classes (``decode_head.num_classes`` of them).
        mask_threshold: binarisation of the sigmoid masks for CLIP (0.5 R101c, 0.4 Swin-B).
        ensemble_weight: lambda (0.7 ADE, 0.6 Pascal Context, 0.45 VOC).
        save_clip_weights: keep the frozen CLIP in ``state_dict()`` (off: training checkpoints
            hold the proposal network; CLIP comes from ``clip_classifier.clip.pretrained``).
        test_cfg: ``mode='whole'`` (OVSeg has no slide inference).
    """

    def __init__(self, backbone: dict, decode_head: dict, clip_classifier: dict,
                 class_names: Optional[Sequence] = None,
                 train_class_names: Optional[Sequence] = None, mask_threshold: float = 0.5,
                 ensemble_weight: float = 0.7, save_clip_weights: bool = False,
                 neck: Optional[dict] = None, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 pretrained: Optional[str] = None, init_cfg=None):
        test_cfg = ConfigDict(dict(dict(mode='whole'), **(test_cfg or {})))
        if test_cfg['mode'] != 'whole':
            raise ValueError(f"OVSeg infers on whole images: test_cfg.mode must be 'whole', got "
                             f"{test_cfg['mode']!r}")
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, pretrained=pretrained,
                         init_cfg=init_cfg)
        self.clip_classifier = SEG_MODELS.build(clip_classifier)
        self.clip_classifier.requires_grad_(False).eval()
        if not 0.0 <= ensemble_weight <= 1.0:
            raise ValueError(f'ensemble_weight (lambda) must be in [0, 1], got {ensemble_weight}')
        if not 0.0 <= mask_threshold < 1.0:
            raise ValueError(f'mask_threshold must be in [0, 1), got {mask_threshold}')
        self.mask_threshold = float(mask_threshold)
        self.ensemble_weight = float(ensemble_weight)
        self.save_clip_weights = save_clip_weights
        self.vocabulary: Optional[List[List[str]]] = None
        self.train_vocabulary = (parse_class_names(train_class_names)
                                 if train_class_names is not None else None)
        if class_names is not None:
            self.set_vocabulary(class_names)
        self._register_state_dict_hook(_drop_clip_weights)
        self.register_load_state_dict_post_hook(_forgive_missing_clip_weights)

    # ----------------------------------------------------------------------------- vocabulary
    def set_vocabulary(self, class_names: Sequence) -> None:
        """Inference vocabulary: any words (``[['cat'], ['dog', 'puppy']]`` or ``'a; b'``)."""
        self.vocabulary = parse_class_names(class_names)

    def text_embeddings(self, vocabulary: Optional[Sequence] = None) -> torch.Tensor:
        """L2-normalised class texts ``(C, E)`` of ``vocabulary`` (default: the inference one),
        from the region classifier's text tower (14 ViLD templates, cached)."""
        vocabulary = self.vocabulary if vocabulary is None else vocabulary
        if not vocabulary:
            raise ValueError('OVSeg has no vocabulary: set model.class_names in the config, give '
                             '--texts/--vocab to tools/infer.py, or call set_vocabulary()')
        return self.clip_classifier.encode_vocabulary(vocabulary)

    # ------------------------------------------------------------------------------ training
    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        if not self.train_vocabulary:
            raise ValueError('training needs model.train_class_names (the training dataset\'s '
                             'classes, in label order)')
        self.decode_head.set_text_embeddings(self.text_embeddings(self.train_vocabulary))
        return super().loss(inputs, data_samples)

    def train(self, mode: bool = True):
        super().train(mode)
        self.clip_classifier.eval()
        return self

    # ----------------------------------------------------------------------------- inference
    def image_pixels(self, inputs: torch.Tensor) -> torch.Tensor:
        """Undoes the data preprocessor's normalisation: RGB ``(B, 3, H, W)`` on 0..255, rounded
        (the pipeline's images are 8-bit; rounding removes the float error of the round trip)."""
        pre = self.data_preprocessor
        if getattr(pre, '_enable_normalize', False):
            inputs = inputs * pre.std + pre.mean
        return inputs.round().clamp(0, 255)

    def proposals(self, inputs: torch.Tensor, batch_img_metas: List[dict],
                  text_embeddings: torch.Tensor):
        """Stage 1: ``class logits (B, Q, C + 1)`` and ``mask logits (B, Q, H, W)`` upsampled
        (bilinear) to the padded input size."""
        self.decode_head.set_text_embeddings(text_embeddings)
        class_logits, mask_logits = self.decode_head.proposals(self.extract_feat(inputs),
                                                               batch_img_metas)
        mask_logits = F.interpolate(mask_logits, size=inputs.shape[-2:], mode='bilinear',
                                    align_corners=False)
        return class_logits, mask_logits

    def classify_proposals(self, image: torch.Tensor, class_logits: Optional[torch.Tensor],
                           mask_probs: torch.Tensor, text_embeddings: torch.Tensor,
                           weight: Optional[float] = None) -> Dict[str, torch.Tensor]:
        """Stage 2 and the composition for one image.

        Args:
            image: RGB ``(3, H, W)`` on 0..255 (unpadded).
            class_logits: MaskFormer logits ``(Q, C + 1)``; None for external proposals
                (classified by CLIP alone).
            mask_probs: soft masks ``(Q, H, W)`` in [0, 1] (sigmoid; 0/1 for external ones).
            text_embeddings: ``(C, E)``.
            weight: lambda; default ``ensemble_weight``.

        Returns:
            dict with ``sem_seg (C, H, W)``, ``class_probs (Q', C)`` and the masks they weight
            ``mask_probs (Q', H, W)`` (Q' = Q, or the non-empty ones for CLIP alone), and when
            CLIP ran ``clip_probs (Q, C)`` and ``empty (Q,)``.
        """
        weight = self.ensemble_weight if weight is None else float(weight)
        if class_logits is None:
            weight = 1.0
        out = {}
        if weight == 0.0:
            class_probs = maskformer_class_probs(class_logits)
        else:
            binary = mask_probs > self.mask_threshold
            clip_probs, empty = self.clip_classifier.classify(image, binary, text_embeddings)
            out.update(clip_probs=clip_probs, empty=empty)
            if weight == 1.0:  # CLIP alone: proposals CLIP could not see are left out
                class_probs, mask_probs = clip_probs[~empty].float(), mask_probs[~empty]
            else:
                class_probs = ensemble_class_probs(class_logits, clip_probs, empty, weight)
        out.update(class_probs=class_probs, mask_probs=mask_probs,
                   sem_seg=semantic_map(class_probs, mask_probs))
        return out

    def predict_regions(self, inputs: torch.Tensor,
                        batch_img_metas: List[dict]) -> List[Dict[str, torch.Tensor]]:
        """Per image: :meth:`classify_proposals`' outputs at the resized image size
        (``img_shape``), plus ``class_logits`` for internal proposals."""
        text = self.text_embeddings()
        external = [_external_masks(meta, inputs.device) for meta in batch_img_metas]
        class_logits = mask_logits = None
        if any(masks is None for masks in external):
            class_logits, mask_logits = self.proposals(inputs, batch_img_metas, text)
        pixels = self.image_pixels(inputs)
        results = []
        for index, meta in enumerate(batch_img_metas):
            height, width = meta['img_shape'][:2]
            image = pixels[index, :, :height, :width]
            if external[index] is not None:
                masks = _resize_masks(external[index], (height, width))
                result = self.classify_proposals(image, None, masks, text)
            else:
                masks = mask_logits[index, :, :height, :width].sigmoid()
                result = self.classify_proposals(image, class_logits[index], masks, text)
                result['class_logits'] = class_logits[index]
            results.append(result)
        return results

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Semantic maps ``(B, C, H, W)`` at the padded input size (zero in the padding, which
        ``postprocess_result`` crops before resizing to the original size)."""
        results = self.predict_regions(inputs, batch_img_metas)
        maps = inputs.new_zeros((inputs.shape[0], results[0]['sem_seg'].shape[0]) +
                                tuple(inputs.shape[-2:]), dtype=torch.float32)
        for index, result in enumerate(results):
            sem_seg = result['sem_seg']
            maps[index, :, :sem_seg.shape[1], :sem_seg.shape[2]] = sem_seg
        return maps

    def _forward(self, inputs: torch.Tensor, data_samples=None) -> torch.Tensor:
        metas = [s.metainfo for s in data_samples] if data_samples is not None else \
            [dict(img_shape=inputs.shape[2:])] * inputs.shape[0]
        return self.encode_decode(inputs, metas)


def _external_masks(meta: dict, device) -> Optional[torch.Tensor]:
    masks = meta.get('mask_proposals')
    if masks is None:
        return None
    if meta.get('flip'):
        raise ValueError('external mask proposals cannot be combined with flipped inputs')
    masks = torch.as_tensor(masks, device=device)
    if masks.ndim != 3:
        raise ValueError(f'mask proposals must be (Q, H, W), got {tuple(masks.shape)}')
    return masks.bool()


def _resize_masks(masks: torch.Tensor, size) -> torch.Tensor:
    """Binary masks ``(Q, H0, W0)`` -> float 0/1 ``(Q, H, W)`` (nearest)."""
    masks = masks.float()
    if masks.shape[0] == 0:
        return masks.new_zeros((0, ) + tuple(size))
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks
    return F.interpolate(masks[:, None], size=tuple(size), mode='nearest')[:, 0]


def _drop_clip_weights(module, state_dict, prefix, local_metadata):
    """State-dict hook: the frozen CLIP comes from its own file unless ``save_clip_weights``."""
    if not module.save_clip_weights:
        for key in [k for k in state_dict if k.startswith(prefix + CLIP_PREFIX)]:
            del state_dict[key]
    return state_dict


def _forgive_missing_clip_weights(module, incompatible_keys):
    """Load post-hook: checkpoints without the frozen CLIP are complete."""
    missing = incompatible_keys.missing_keys
    missing[:] = [k for k in missing if not (k.startswith(CLIP_PREFIX) or
                                             f'.{CLIP_PREFIX}' in k)]
