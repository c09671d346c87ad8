"""BIRDet's Background Information Modelling (BIM): an image-conditioned background embedding.

Per image ``I`` of a batch (all steps batched):

1. scene scores over the scene vocabulary ``(B, S)`` from a scene scorer (zero-shot CLIP or a
   trained scene CNN, :mod:`.bim_scene_scorers`);
2. the top-K descriptors ``d_1..d_K`` of each image and the softmax of their scores ``w (B, K)``;
3. every selected descriptor becomes a prompt ``[SOT, ctx_1..ctx_M, tokens(d), '.', EOT]`` with
   ``M`` learnable context vectors shared by all descriptors (CoOp), encoded by the detector's
   frozen CLIP text tower: ``e(d)`` L2-normalised;
4. ``t_bg(I) = normalize(sum_k w_k e(d_k))`` ``(B, E)``.

The detector classifies regions against ``[class text embeddings; t_bg(I)]``; at test time
:meth:`rescore` lowers every class score by the detection's background probability:
``score_c <- score_c * (1 - alpha * p_bg)``. Steps 2-4's weighted mean, the re-scoring formula
and the defaults (K=5, M=8, alpha) are this project's reconstruction (docs/birdet.md).

The zero-shot scorer's descriptor embeddings (plain template prompts, no context) are encoded
once per text-tower state and kept in memory, and on disk when ``cache_dir`` is set (the CLIP
core's ``TextClassifierCache``, keyed by the tower's weights, the names and the templates).
"""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor, nn

from clipdense.clip import (CLIPTokenizer, TextClassifierCache, build_text_classifier,
                            module_fingerprint)
from clipdense.datasets.scene_labels import resolve_scene_vocabulary
from clipdense.registry import build_in_own_scope

from .background_embedding import BaseBackgroundEmbedding
from .bim_scene_scorers import SceneCNNScorer, ZeroShotSceneScorer  # noqa: F401 (registered)


def encode_with_context(text_encoder: nn.Module, token_ids: Tensor, context: Tensor) -> Tensor:
    """CoOp prompts through a CLIP text tower.

    Args:
        text_encoder: has ``token_embedding``, ``context_length`` and
            ``encode_embeddings(x (N, L, width), eot_index (N,)) -> (N, E)``.
        token_ids: ``(N, L - M)`` ``[SOT, tokens, EOT, 0...]``.
        context: ``(M, width)`` learnable vectors inserted after SOT.

    Returns:
        ``(N, E)`` text embeddings (not normalised).
    """
    num, num_context = token_ids.shape[0], context.shape[0]
    tokens = text_encoder.token_embedding(token_ids)
    context = context.to(tokens.dtype).unsqueeze(0).expand(num, -1, -1)
    x = torch.cat([tokens[:, :1], context, tokens[:, 1:]], dim=1)
    return text_encoder.encode_embeddings(x, token_ids.argmax(dim=-1) + num_context)


@MODELS.register_module()
class BackgroundInformationModelling(BaseBackgroundEmbedding):
    """BIM: ``t_bg(I)`` from the top-K scene descriptors of each image (see the module doc).

    Args:
        embed_dim: CLIP joint embedding size ``E`` (filled in by the detector).
        context_width: the text tower's token width (512 for CLIP RN50/ViT-B).
        scene_vocabulary: descriptor file, list of names, or ``'places365'`` (clipdense's
            365 Places365 scene names, ``clipdense/data/places365_scenes.txt``).
        scene_scorer: ``dict(type='ZeroShotSceneScorer')`` or ``dict(type='SceneCNNScorer', ...)``
            (its classes must be the vocabulary, in order).
        top_k: descriptors per image (clipped to the vocabulary size).
        num_context: learnable context vectors ``M``; context_init_std: their normal init std.
        prompt_suffix: text after the descriptor in the prompt (CoOp: ``'.'``).
        score_temperature: the top-K weights are ``softmax(scores / score_temperature)``.
        alpha: re-scoring strength in [0, 1] (0 disables :meth:`rescore`).
        descriptor_templates: templates of the zero-shot descriptor embeddings.
        cache_dir: on-disk cache of those embeddings (None: memory only).
    """

    def __init__(self, embed_dim: int, context_width: int,
                 scene_vocabulary: Union[str, Sequence[str]] = 'places365',
                 scene_scorer: Optional[dict] = None, top_k: int = 5, num_context: int = 8,
                 context_init_std: float = 0.02, prompt_suffix: str = '.',
                 score_temperature: float = 1.0, alpha: float = 0.5,
                 descriptor_templates: Union[str, Sequence[str]] = 'single',
                 cache_dir: Optional[str] = None, init_cfg=None):
        super().__init__(embed_dim, init_cfg=init_cfg)
        self.scene_vocabulary = resolve_scene_vocabulary(scene_vocabulary)
        self.scene_scorer = build_in_own_scope(MODELS, scene_scorer or dict(type='ZeroShotSceneScorer'))
        num_classes = getattr(self.scene_scorer, 'num_classes', None)
        if num_classes is not None and num_classes != len(self.scene_vocabulary):
            raise ValueError(f'the scene scorer has {num_classes} classes but the scene '
                             f'vocabulary has {len(self.scene_vocabulary)} descriptors; they '
                             'must be the same list')
        if top_k < 1 or num_context < 0 or context_width < 1:
            raise ValueError(f'BIM needs top_k >= 1, num_context >= 0 and context_width >= 1, '
                             f'got {top_k}, {num_context}, {context_width}')
        if not 0.0 <= alpha <= 1.0 or score_temperature <= 0:
            raise ValueError(f'BIM needs alpha in [0, 1] and score_temperature > 0, got '
                             f'{alpha}, {score_temperature}')
        self.uses_image_embeds = self.scene_scorer.uses_image_embeds
        self.top_k = min(top_k, len(self.scene_vocabulary))
        self.context_width, self.prompt_suffix = context_width, prompt_suffix
        self.score_temperature, self.alpha = score_temperature, alpha
        self.descriptor_templates = descriptor_templates
        self.cache = TextClassifierCache(cache_dir) if cache_dir else None
        self.context = nn.Parameter(torch.empty(num_context, context_width))
        nn.init.normal_(self.context, std=context_init_std)
        self._descriptor_embeds: Dict[tuple, Tensor] = {}
        self._prompt_ids: Dict[int, Tensor] = {}

    # ----------------------------------------------------------------------------- text side
    @staticmethod
    def _tower_state(text_encoder: nn.Module) -> tuple:
        """Identifies the tower's current weights cheaply (storage + in-place version)."""
        return tuple((p.data_ptr(), p._version) for p in text_encoder.parameters())

    def descriptor_embeddings(self, text_encoder: nn.Module) -> Tensor:
        """``(S, E)`` L2-normalised zero-shot embeddings of the vocabulary (no grad; memory
        cache per tower state, disk cache with ``cache_dir``)."""
        device = next(text_encoder.parameters()).device
        key = (id(text_encoder), device, self._tower_state(text_encoder))
        if key not in self._descriptor_embeds:
            self._descriptor_embeds = {key: build_text_classifier(
                text_encoder, self.scene_vocabulary, self.descriptor_templates,
                encoder_id=module_fingerprint(text_encoder),
                tokenizer=CLIPTokenizer(text_encoder.context_length), cache=self.cache,
                device=device)}
        return self._descriptor_embeds[key]

    def prompt_token_ids(self, context_length: int) -> Tensor:
        """``(S, context_length - M)`` ids of ``'<descriptor><suffix>'`` prompts (cached)."""
        if context_length not in self._prompt_ids:
            budget = context_length - self.context.shape[0]
            if budget < 3:
                raise ValueError(f'the text context length {context_length} leaves no room for '
                                 f'descriptors after {self.context.shape[0]} context vectors')
            self._prompt_ids[context_length] = CLIPTokenizer(budget)(
                [f'{name}{self.prompt_suffix}' for name in self.scene_vocabulary])
        return self._prompt_ids[context_length]

    def prompted_embeddings(self, indices: Tensor, text_encoder: nn.Module) -> Tensor:
        """``(N, E)`` L2-normalised prompted embeddings of descriptors ``indices`` ``(N,)``;
        differentiable w.r.t. the context vectors."""
        width = text_encoder.token_embedding.embedding_dim
        if width != self.context_width:
            raise ValueError(f'BIM context_width={self.context_width} does not match the text '
                             f'tower width {width}; set background.context_width={width}')
        ids = self.prompt_token_ids(text_encoder.context_length).to(indices.device)[indices]
        return F.normalize(encode_with_context(text_encoder, ids, self.context).float(), dim=-1)

    # ---------------------------------------------------------------------------- image side
    def scene_scores(self, image_embeds: Optional[Tensor], inputs: Tensor,
                     text_encoder: nn.Module) -> Tensor:
        """``(B, S)`` scene logits of the batch."""
        descriptors = (self.descriptor_embeddings(text_encoder)
                       if self.scene_scorer.uses_descriptor_embeds else None)
        scores = self.scene_scorer(image_embeds, inputs, descriptors)
        if scores.shape != (inputs.shape[0], len(self.scene_vocabulary)):
            raise ValueError(f'the scene scorer returned {tuple(scores.shape)}, expected '
                             f'({inputs.shape[0]}, {len(self.scene_vocabulary)})')
        return scores

    def top_descriptors(self, scores: Tensor):
        """``(B, S)`` logits -> top-K indices ``(B, K)`` and weights ``(B, K)`` (softmax of the
        top-K logits / ``score_temperature``)."""
        top_scores, top_indices = scores.float().topk(self.top_k, dim=1)
        return top_indices, (top_scores / self.score_temperature).softmax(dim=1)

    def forward(self, image_embeds: Optional[Tensor], inputs: Tensor,
                text_encoder: nn.Module) -> Tensor:
        """``t_bg(I)`` ``(B, E)`` L2-normalised; see the base class for the arguments."""
        indices, weights = self.top_descriptors(
            self.scene_scores(image_embeds, inputs, text_encoder))
        unique, inverse = indices.unique(return_inverse=True)  # encode each descriptor once
        prompted = self.prompted_embeddings(unique, text_encoder)          # (U, E)
        background = (weights.unsqueeze(-1) * prompted[inverse]).sum(dim=1)  # (B, E)
        return F.normalize(background, dim=-1)

    def rescore(self, scores: Tensor, bg_probs: Tensor) -> Tensor:
        """``scores (N, C) * (1 - alpha * bg_probs (N,))``."""
        if bg_probs.shape != scores.shape[:1]:
            raise ValueError(f'rescore: bg_probs {tuple(bg_probs.shape)} must be '
                             f'({scores.shape[0]},) for scores {tuple(scores.shape)}')
        return scores * (1 - self.alpha * bg_probs.to(scores)).unsqueeze(-1)
