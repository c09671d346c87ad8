"""Zero-shot open-vocabulary segmentation with CLIP: MaskCLIP and CLIP-DINOiser.

    image -> MaskCLIPViT (one pass: value-path dense map + block-k LN2 features)
          -> [DINOiserHead: correlation pooling, saliency]
          -> cosine with the cached text classifier -> softmax(scale * cos)
          -> [background rule] -> per-window probabilities averaged over slide windows

CLIP weights come from the config's local file and are frozen; saved checkpoints hold only the
trainable light layers (``save_clip_weights=True`` keeps everything).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import HOOKS

from clipdense.clip import (TextClassifierCache, build_clip, build_text_classifier,
                            is_hub_tag, module_fingerprint, parse_class_names)
from clipdense.models.heads.dinoiser_head import LIGHT_LAYER_PREFIXES, require_weight_file
from clipdense.registry import SEG_MODELS, register_model

FROZEN_PREFIXES = ('backbone.', 'text_encoder.', 'teachers.')


def slide_windows(height: int, width: int, crop: Tuple[int, int],
                  stride: Tuple[int, int]) -> List[Tuple[int, int, int, int]]:
    """``(y1, y2, x1, x2)`` windows of mmseg's slide inference (last ones flush with the edge;
    a dimension smaller than the crop is covered by one window of its own size)."""
    (crop_h, crop_w), (stride_h, stride_w) = crop, stride
    rows = max(height - crop_h + stride_h - 1, 0) // stride_h + 1
    cols = max(width - crop_w + stride_w - 1, 0) // stride_w + 1
    windows = []
    for row in range(rows):
        for col in range(cols):
            y2, x2 = min(row * stride_h + crop_h, height), min(col * stride_w + crop_w, width)
            windows.append((max(y2 - crop_h, 0), y2, max(x2 - crop_w, 0), x2))
    return windows


@register_model(SEG_MODELS)
class ZeroShotSegmentor(BaseSegmentor):
    """MaskCLIP (``decode_head=None``) or CLIP-DINOiser (``decode_head=dict(type='DINOiserHead')``).

    Args:
        clip: ``build_clip`` kwargs: ``model_name='ViT-B-16'`` or ``arch=dict(...)``,
            ``pretrained`` (a local file), ``quick_gelu``.
        backbone: ``MaskCLIPViT`` options (``feats_idx``); its ``visual`` is the CLIP's.
        decode_head: the light layers, or None for plain MaskCLIP.
        class_names: the vocabulary (synonyms as ``'person; man'`` or lists); None: the dataset's
            (set by :class:`DatasetVocabularyHook`) or ``set_vocabulary``.
        templates: prompt templates (``'imagenet80'``); logit_scale: softmax temperature (100).
        background_class: the vocabulary entry that is background (matched on any synonym).
        saliency_background: apply the head's background rule when the vocabulary has the
            background class (CLIP-DINOiser on VOC / COCO-Object).
        prob_threshold: training-free peers' rule: a pixel whose max probability is below it
            becomes background (needs the background class). None: off.
        text_cache_dir: on-disk text classifier cache (None: memory only).
        teachers: ``dict(correlation=..., saliency=...)`` teacher configs for training.
        loss_weights: weights of the ``correlation`` and ``saliency`` losses.
        save_clip_weights: keep the frozen CLIP (and teacher) weights in ``state_dict()``;
            off by default, since they come from their local files.
        test_cfg: ``mode`` (``'slide'`` | ``'whole'``), ``crop_size``, ``stride``,
            ``window_batch_size`` (windows per forward pass).
    """

    def __init__(self, clip: dict, backbone: Optional[dict] = None,
                 decode_head: Optional[dict] = None,
                 class_names: Optional[Sequence] = None, templates='imagenet80',
                 logit_scale: float = 100.0, background_class: str = 'background',
                 saliency_background: bool = True, prob_threshold: Optional[float] = None,
                 text_cache_dir: Optional[str] = None, teachers: Optional[dict] = None,
                 loss_weights: Optional[dict] = None, save_clip_weights: bool = False,
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if clip.get('pretrained') and not is_hub_tag(clip['pretrained']):
            require_weight_file(clip['pretrained'], 'CLIP (model.clip.pretrained)',
                                'an open_clip checkpoint, e.g. ViT-B-16 laion2b_s34b_b88k')
        clip_model = build_clip(**clip)
        visual = clip_model.visual
        del clip_model.visual  # the text tower stays; the visual one moves into the backbone
        self.backbone = SEG_MODELS.build(dict(dict(type='MaskCLIPViT'), **(backbone or {}),
                                              visual=visual))
        self.text_encoder = clip_model
        self.decode_head = SEG_MODELS.build(decode_head) if decode_head else None
        self.teachers = torch.nn.ModuleDict(
            {name: SEG_MODELS.build(cfg) for name, cfg in (teachers or {}).items()})
        for module in (self.backbone, self.text_encoder, self.teachers):
            module.requires_grad_(False).eval()
        self.templates = templates
        self.logit_scale = logit_scale
        self.background_class = background_class.lower()
        self.saliency_background = saliency_background
        self.prob_threshold = prob_threshold
        self.text_cache = TextClassifierCache(text_cache_dir) if text_cache_dir else None
        self.loss_weights = dict(dict(correlation=1.0, saliency=1.0), **(loss_weights or {}))
        self.save_clip_weights = save_clip_weights
        self.train_cfg = train_cfg
        self.test_cfg = dict(dict(mode='slide', crop_size=(448, 448), stride=(224, 224),
                                  window_batch_size=8), **(test_cfg or {}))
        self.align_corners = False
        self.vocabulary: Optional[List[List[str]]] = None
        self._classifiers: Dict[tuple, torch.Tensor] = {}
        self._text_fingerprint: Optional[str] = None
        if class_names is not None:
            self.set_vocabulary(class_names)
        self._register_state_dict_hook(_drop_frozen_weights)
        self.register_load_state_dict_post_hook(_forgive_missing_frozen_weights)

    # ----------------------------------------------------------------- vocabulary / classifier
    def set_vocabulary(self, class_names: Sequence) -> None:
        """Uses ``class_names`` (entries are names, ``'a; b'`` synonym strings or lists)."""
        vocabulary = parse_class_names(class_names)
        if len(vocabulary) < 2:
            raise ValueError(f'the vocabulary {vocabulary} has one class; probabilities need at '
                             'least two to compare (add e.g. "background")')
        self.vocabulary = vocabulary

    @property
    def weights_from_config(self) -> bool:
        """True when evaluation needs no trained checkpoint: MaskCLIP (frozen CLIP only), light
        layers read from ``decode_head.checkpoint``, or no teachers to learn them from (random
        light layers are then the config's choice, as in the toy mechanics config)."""
        return (self.decode_head is None or self.decode_head.checkpoint is not None or
                not self.teachers)

    @property
    def num_classes(self) -> int:
        return len(self.vocabulary) if self.vocabulary else 0

    @property
    def out_channels(self) -> int:
        return self.num_classes

    @property
    def background_index(self) -> Optional[int]:
        """Index of the background class in the vocabulary, or None."""
        for index, synonyms in enumerate(self.vocabulary or []):
            if any(name.lower() == self.background_class for name in synonyms):
                return index
        return None

    def text_classifier(self) -> torch.Tensor:
        """L2-normalised class embeddings ``(K, D)``, cached per vocabulary (memory and disk)."""
        if not self.vocabulary:
            raise ValueError('no vocabulary: set model.class_names in the config, give --texts/'
                             '--vocab to tools/infer.py, or call set_vocabulary()')
        if self._text_fingerprint is None:
            self._text_fingerprint = module_fingerprint(self.text_encoder)
        key = (self._text_fingerprint, str(self.templates),
               tuple(tuple(names) for names in self.vocabulary))
        if key not in self._classifiers:
            device = self.text_encoder.token_embedding.weight.device
            self._classifiers[key] = build_text_classifier(
                self.text_encoder.encode_text, self.vocabulary, self.templates,
                encoder_id=self._text_fingerprint, cache=self.text_cache, device=device)
        return self._classifiers[key]

    # ----------------------------------------------------------------------------- inference
    def extract_feat(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``(B, 3, H, W)`` -> MaskCLIPViT outputs (``dense``, ``feats``)."""
        return self.backbone(inputs)

    def classify(self, dense: torch.Tensor, classifier: torch.Tensor) -> torch.Tensor:
        """``(B, D, h, w)`` features -> ``(B, K, h, w)`` softmax(scale * cosine)."""
        dense = F.normalize(dense.float(), dim=1)
        logits = torch.einsum('bdhw,kd->bkhw', dense, classifier.to(dense.device).float())
        return (self.logit_scale * logits).softmax(dim=1)

    def window_probabilities(self, images: torch.Tensor,
                             classifier: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Class probabilities ``(B, K, H, W)`` of each image (or window) ``(B, 3, H, W)``,
        computed at feature resolution and upsampled bilinearly."""
        classifier = self.text_classifier() if classifier is None else classifier
        height, width = images.shape[-2:]
        patch = self.backbone.patch_size
        pad_h, pad_w = -height % patch, -width % patch
        if pad_h or pad_w:  # pad to whole patches; the padding is cropped off again
            images = F.pad(images, (0, pad_w, 0, pad_h))
        out = self.backbone(images)
        dense, saliency = out['dense'], None
        if self.decode_head is not None:
            refined = self.decode_head(dense, out['feats'])
            dense, saliency = refined['dense'], refined['saliency_logits']
        probs = self.classify(dense, classifier)
        background = self.background_index
        if saliency is not None and self.saliency_background and background is not None:
            probs = self.decode_head.background_rule(probs, saliency, background)
        probs = F.interpolate(probs, size=images.shape[-2:], mode='bilinear',
                              align_corners=False)
        return probs[..., :height, :width]

    def slide_inference(self, inputs: torch.Tensor) -> torch.Tensor:
        """Averages window probabilities; all windows of the batch go through the network
        ``window_batch_size`` at a time. ``(B, 3, H, W)`` -> ``(B, K, H, W)``."""
        cfg = self.test_cfg
        batch, _, height, width = inputs.shape
        windows = slide_windows(height, width, tuple(cfg['crop_size']), tuple(cfg['stride']))
        jobs = [(b, w) for b in range(batch) for w in windows]
        classifier = self.text_classifier()
        probs = inputs.new_zeros((batch, len(classifier), height, width), dtype=torch.float32)
        counts = inputs.new_zeros((batch, 1, height, width), dtype=torch.float32)
        step = max(int(cfg.get('window_batch_size', 8)), 1)
        for start in range(0, len(jobs), step):
            chunk = jobs[start:start + step]
            crops = torch.stack([inputs[b, :, y1:y2, x1:x2] for b, (y1, y2, x1, x2) in chunk])
            crop_probs = self.window_probabilities(crops, classifier)
            for (b, (y1, y2, x1, x2)), window_probs in zip(chunk, crop_probs):
                probs[b, :, y1:y2, x1:x2] += window_probs
                counts[b, :, y1:y2, x1:x2] += 1
        return probs / counts

    def encode_decode(self, inputs: torch.Tensor,
                      batch_img_metas: Optional[List[dict]] = None) -> torch.Tensor:
        """Probabilities ``(B, K, H, W)`` at input size (slide or whole, per ``test_cfg``)."""
        mode = self.test_cfg['mode']
        if mode == 'slide':
            probs = self.slide_inference(inputs)
        elif mode == 'whole':
            probs = self.window_probabilities(inputs)
        else:
            raise ValueError(f"test_cfg.mode must be 'slide' or 'whole', got {mode!r}")
        return self.threshold_background(probs)

    def threshold_background(self, probs: torch.Tensor) -> torch.Tensor:
        """The peers' rule: ``p[background] = 1`` where the max probability < prob_threshold."""
        if self.prob_threshold is None:
            return probs
        background = self.background_index
        if background is None:
            raise ValueError(f'prob_threshold={self.prob_threshold} needs a '
                             f'{self.background_class!r} class in the vocabulary')
        low = probs.max(dim=1).values < self.prob_threshold
        probs[:, background] = probs[:, background].masked_fill(low, 1.0)
        return probs

    def predict(self, inputs: torch.Tensor, data_samples=None):
        metas = [s.metainfo for s in data_samples] if data_samples is not None else None
        return self.postprocess_result(self.encode_decode(inputs, metas), data_samples)

    def _forward(self, inputs: torch.Tensor, data_samples=None) -> torch.Tensor:
        return self.encode_decode(inputs)

    # ------------------------------------------------------------------------------ training
    def loss(self, inputs: torch.Tensor, data_samples=None) -> dict:
        """Light-layer losses against the teachers: BCE-with-logits of the clamped student
        correlation vs DINO's binary correlation, and of the saliency logits vs FOUND's."""
        if self.decode_head is None or set(self.teachers) != {'correlation', 'saliency'}:
            raise ValueError('training needs decode_head and teachers=dict(correlation=..., '
                             'saliency=...) in the model config')
        with torch.no_grad():
            feats = self.backbone(inputs)['feats']
            pixels = self.data_preprocessor_pixels(inputs)
            grid = tuple(feats.shape[-2:])
            corr_target = self.teachers['correlation'](pixels, grid)
            saliency_target = self.teachers['saliency'](pixels, grid)
        correlation = self.decode_head.correlation(feats)
        saliency = self.decode_head.saliency_logits(feats)
        return dict(
            loss_correlation=self.loss_weights['correlation'] *
            F.binary_cross_entropy_with_logits(correlation.clamp(min=0), corr_target),
            loss_saliency=self.loss_weights['saliency'] *
            F.binary_cross_entropy_with_logits(saliency, saliency_target))

    def data_preprocessor_pixels(self, inputs: torch.Tensor) -> torch.Tensor:
        """Undoes the data preprocessor's normalisation: RGB pixels in 0..255."""
        pre = self.data_preprocessor
        if getattr(pre, '_enable_normalize', False):
            return inputs * pre.std + pre.mean
        return inputs

    def train(self, mode: bool = True):
        super().train(mode)
        for module in (self.backbone, self.text_encoder, self.teachers):
            module.eval()
        return self

    # ------------------------------------------------------------------------- checkpoints
    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Accepts the released light-layer format ``{'epoch', 'model_state_dict': {...}}``."""
        released = state_dict.pop(prefix + 'model_state_dict', None)
        if isinstance(released, dict):
            state_dict.pop(prefix + 'epoch', None)
            for key, value in released.items():
                if key.startswith(LIGHT_LAYER_PREFIXES):
                    state_dict[f'{prefix}decode_head.{key}'] = value
        if any(k.startswith(prefix + 'text_encoder.') for k in state_dict):
            self._text_fingerprint = None
            self._classifiers.clear()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _drop_frozen_weights(module, state_dict, prefix, local_metadata):
    """State-dict hook: frozen CLIP / teacher weights come from their local files."""
    if not module.save_clip_weights:
        for key in [k for k in state_dict if k.startswith(tuple(prefix + p
                                                                  for p in FROZEN_PREFIXES))]:
            del state_dict[key]
    return state_dict


def _forgive_missing_frozen_weights(module, incompatible_keys):
    """Load post-hook: checkpoints without the frozen weights are complete."""
    missing = incompatible_keys.missing_keys
    missing[:] = [k for k in missing
                  if not any(k.startswith(p) or f'.{p}' in k for p in FROZEN_PREFIXES)]


@HOOKS.register_module()
class DatasetVocabularyHook(Hook):
    """Gives a vocabulary-less zero-shot model its evaluation dataset's class names."""

    def _set(self, runner, loop_name):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        loop = getattr(runner, loop_name)
        if hasattr(model, 'set_vocabulary') and not model.vocabulary:
            classes = loop.dataloader.dataset.metainfo['classes']
            model.set_vocabulary(list(classes))
            print_log(f'zero-shot vocabulary from the dataset: {len(classes)} classes',
                      'current')

    def before_val(self, runner) -> None:
        self._set(runner, 'val_loop')

    def before_test(self, runner) -> None:
        self._set(runner, 'test_loop')
