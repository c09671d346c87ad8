"""DenseCLIP's text side, shared by its segmentor and its detectors.

Class-name tokens, learnable contexts, the frozen text encoder with its inference cache, the
context decoder, the ``gamma`` residual and the pixel-text score map live here once;
:class:`~clipdense.models.segmentors.DenseCLIP`, ``DenseCLIPRetinaNet`` and ``DenseCLIPMaskRCNN``
mix :class:`ContextAwarePrompting` in. The parameters stay attributes of the host model
(``text_encoder.*``, ``context_decoder.*``, ``contexts``, ``gamma``), so the original's released
checkpoints keep loading with their own key names.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from clipdense.registry import DET_DATASETS, SEG_DATASETS

from .clip_text_context_encoder import CLIPTextContextEncoder
from .registry import build_text_encoder


def resolve_class_names(class_names: Union[str, Sequence[str]]) -> List[str]:
    """A list of names, or the name of a registered (mmseg or mmdet) dataset whose
    ``METAINFO['classes']`` to use (e.g. ``'ADE20KDataset'``, ``'CocoDataset'``)."""
    if isinstance(class_names, str):
        dataset = SEG_DATASETS.get(class_names) or DET_DATASETS.get(class_names)
        if dataset is None:
            raise KeyError(f'class_names={class_names!r} is neither a list of class names nor a '
                           'registered dataset type')
        return list(dataset.METAINFO['classes'])
    names = list(class_names)
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError(f'class_names must be non-empty strings, got {names}')
    return names


class PixelTextScores(NamedTuple):
    """DenseCLIP's pixel-text results for a batch."""
    text_embeddings: Tensor  # (B, K, C): class embeddings refined by the image's context
    score_map: Tensor  # (B, K, h, w): cosine of dense features and refined text embeddings


class ContextAwarePrompting:
    """Mixin giving an mmengine model (segmentor or detector) DenseCLIP's text/context path.

    Per image, with the backbone's ``[global (B, C), dense (B, C, h, w)]`` embeddings:
    ``t = text_encoder(class-name tokens, contexts)`` ``(1, K, C)`` (cached in inference),
    ``t += gamma * context_decoder(t, [global; dense tokens])`` and the score map
    ``cos(dense, t)`` ``(B, K, h, w)``.

    The host calls :meth:`_build_text_modules` and :meth:`_init_prompts` in its ``__init__``
    (two steps so that a host keeps the original's construction order, hence its random init
    for a given seed), sets ``score_concat_index`` (checked by :meth:`_check_score_concat_index`)
    and fuses the score map into its features with :meth:`_fuse_score_map`. The text encoder is frozen (``requires_grad=False``, eval mode) unless
    ``freeze_text_encoder=False``; gradients still flow through it to the contexts. Its output is
    image-independent, so in inference (eval mode, no grad) it is computed once and cached until
    the contexts or its weights change; the context decoder runs for every image (and crop).
    """

    @staticmethod
    def _route_pretrained(pretrained: Optional[str], backbone: dict, text_encoder: dict,
                          host: str) -> Tuple[dict, dict]:
        """The original's model-level ``pretrained``: one CLIP file for both towers (an error
        when the ``host`` model and one of its towers both set one)."""
        if pretrained is None:
            return backbone, text_encoder
        for name, cfg in (('backbone', backbone), ('text_encoder', text_encoder)):
            if cfg.get('pretrained') is not None:
                raise ValueError(f'both the {host} and its {name} set pretrained')
        return dict(backbone, pretrained=pretrained), dict(text_encoder, pretrained=pretrained)

    @staticmethod
    def _check_score_concat_index(score_concat_index: int) -> None:
        if score_concat_index not in range(4):
            raise ValueError(f'score_concat_index must be 0..3, got {score_concat_index}')

    def _build_text_modules(self, text_encoder: dict, context_decoder: dict, registry) -> None:
        """``text_encoder`` (resolved in clipdense's text registry first) and
        ``context_decoder`` (built by ``registry``, the host task's ``MODELS``)."""
        self.text_encoder = build_text_encoder(text_encoder)
        self.context_decoder = registry.build(context_decoder)

    def _init_prompts(self, class_names: Union[str, Sequence[str]], context_length: int,
                      token_embed_dim: int, text_dim: int, freeze_text_encoder: bool) -> None:
        """Class names and their tokens (``texts`` ``(K, context_length)``, not saved in
        checkpoints), learnable ``contexts`` ``(1, N, token_embed_dim)`` (trunc-normal, std 1,
        +-2) and ``gamma`` ``(text_dim,)`` = 1e-4."""
        self.class_names = resolve_class_names(class_names)
        self._check_text_encoder(context_length, token_embed_dim, text_dim)
        self.register_buffer(
            'texts', CLIPTextContextEncoder.tokenize_class_names(self.class_names,
                                                                 context_length),
            persistent=False)
        num_contexts = self.text_encoder.context_length - context_length
        self.contexts = nn.Parameter(torch.empty(1, num_contexts, token_embed_dim))
        nn.init.trunc_normal_(self.contexts, std=1.0, a=-2.0, b=2.0)
        self.gamma = nn.Parameter(torch.full((text_dim, ), 1e-4))
        self.freeze_text_encoder = freeze_text_encoder
        if freeze_text_encoder:
            self.text_encoder.requires_grad_(False)
        self._text_cache = None

    def _check_text_encoder(self, context_length: int, token_embed_dim: int, text_dim: int):
        encoder = self.text_encoder
        if not isinstance(encoder, CLIPTextContextEncoder):
            raise TypeError(f'DenseCLIP needs a CLIPTextContextEncoder, got '
                            f'{type(encoder).__name__}')
        if encoder.context_length <= context_length:
            raise ValueError(f'text_encoder.context_length ({encoder.context_length}) must exceed '
                             f'the class-name context_length ({context_length}) by the number '
                             'of learnable contexts')
        width = encoder.token_embedding.embedding_dim
        if token_embed_dim != width or text_dim != encoder.embed_dim:
            raise ValueError(f'token_embed_dim={token_embed_dim} / text_dim={text_dim} must equal '
                             f'the text encoder width {width} / embed_dim {encoder.embed_dim}')

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_text_encoder:
            self.text_encoder.eval()
        if mode:
            self._text_cache = None
        return self

    def _text_state(self) -> tuple:
        """What the cached text embeddings depend on: the token ids, contexts and text-encoder
        weights (storage and in-place version), device/dtype, and the autocast state (an output
        computed under autocast has the autocast dtype and must not be reused outside it)."""
        device_type = self.contexts.device.type
        autocast = torch.is_autocast_enabled(device_type)
        tensors = [self.texts, self.contexts, *self.text_encoder.parameters()]
        return (self.contexts.device, self.contexts.dtype, autocast,
                torch.get_autocast_dtype(device_type) if autocast else None,
                tuple((t.data_ptr(), t._version) for t in tensors))

    def text_embeddings(self) -> Tensor:
        """Class embeddings with the learnt contexts, ``(1, K, text_dim)``; cached in
        inference (eval mode without grad), recomputed when the contexts or weights change."""
        if self.training or torch.is_grad_enabled():
            return self.text_encoder(self.texts, self.contexts)
        state = self._text_state()
        if self._text_cache is None or self._text_cache[0] != state:
            self._text_cache = (state, self.text_encoder(self.texts, self.contexts))
        return self._text_cache[1]

    def match_pixels_and_text(self, global_feat: Tensor, dense: Tensor) -> PixelTextScores:
        """Refined text embeddings ``(B, K, C)`` and cosine score map ``(B, K, h, w)`` from the
        backbone's global ``(B, C)`` and dense ``(B, C, h, w)`` embeddings."""
        visual_context = torch.cat([global_feat.unsqueeze(1), dense.flatten(2).transpose(1, 2)],
                                   dim=1)
        text = self.text_embeddings().expand(dense.shape[0], -1, -1)
        text = text + self.gamma * self.context_decoder(text, visual_context)
        score_map = torch.einsum('bchw,bkc->bkhw', F.normalize(dense, dim=1),
                                 F.normalize(text, dim=2))
        return PixelTextScores(text, score_map)

    def _backbone_pixel_text(self, inputs: Tensor) -> Tuple[List[Tensor], PixelTextScores]:
        """The backbone's four stage maps and the pixel-text results of ``inputs``."""
        feats = self.backbone(inputs)
        pair = feats[-1] if len(feats) == 5 else None
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise TypeError('DenseCLIP needs a backbone returning 4 maps and [global, dense] '
                            'embeddings last: CLIPResNetWithAttention or '
                            'CLIPVisionTransformer(get_embeddings=True)')
        return list(feats[:4]), self.match_pixels_and_text(*pair)

    def _fuse_score_map(self, stages: Sequence[Tensor], score_map: Tensor) -> Sequence[Tensor]:
        """``stages`` with ``score_map`` ``(B, K, h, w)`` concatenated onto stage
        ``score_concat_index`` (channels), through the host's neck when it has one."""
        index = self.score_concat_index
        if score_map.shape[-2:] != stages[index].shape[-2:]:
            raise ValueError(f'score map {tuple(score_map.shape[-2:])} does not match backbone '
                             f'level {index} {tuple(stages[index].shape[-2:])}; set '
                             'score_concat_index to the level of the dense embeddings (3 for CLIP '
                             'ResNets, 2 for ViT-B/16)')
        stages = list(stages)
        stages[index] = torch.cat([stages[index], score_map], dim=1)
        return self.neck(stages) if self.with_neck else tuple(stages)

    def pixel_text_scores(self, inputs: Tensor) -> PixelTextScores:
        """Public access to DenseCLIP's pixel-text matching for preprocessed ``inputs``
        ``(B, 3, H, W)``: ``(text_embeddings (B, K, C), score_map (B, K, H/s, W/s))`` with the
        dense-feature stride ``s`` (32 for CLIP ResNets, 16 for ViT-B/16), classes in
        ``class_names`` order. The score map is the raw cosine, as the segmentor fuses it; the
        detectors fuse ``score_map / tau``."""
        return self._backbone_pixel_text(inputs)[1]
