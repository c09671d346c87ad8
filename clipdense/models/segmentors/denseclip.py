"""DenseCLIP: pixel-text matching with context-aware prompting, on mmseg's EncoderDecoder."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import add_prefix
from torch import Tensor, nn

from clipdense.registry import SEG_DATASETS, SEG_MODELS

from ..text import CLIPTextContextEncoder, build_text_encoder


def resolve_class_names(class_names: Union[str, Sequence[str]]) -> List[str]:
    """A list of names, or the name of a registered dataset whose ``METAINFO['classes']`` to use
    (e.g. ``'ADE20KDataset'``)."""
    if isinstance(class_names, str):
        dataset = SEG_DATASETS.get(class_names)
        if dataset is None:
            raise KeyError(f'class_names={class_names!r} is neither a list of class names nor a '
                           'registered dataset type')
        return list(dataset.METAINFO['classes'])
    names = list(class_names)
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError(f'class_names must be non-empty strings, got {names}')
    return names


@SEG_MODELS.register_module()
class DenseCLIP(EncoderDecoder):
    """DenseCLIP segmentor.

    Per image: backbone -> stage maps + ``[global (B, C), dense (B, C, h, w)]``; text embeddings
    ``t`` of the class names with learnable contexts ``(1, K, C)``; ``t += gamma *
    ContextDecoder(t, [global; dense tokens])``; the cosine score map ``(B, K, h, w)`` of dense
    features and ``t`` is concatenated onto stage ``score_concat_index``; neck -> decode head.
    Training adds the identity head's loss on ``score_map / tau``.

    The text encoder is frozen (``requires_grad=False``, eval mode) unless
    ``freeze_text_encoder=False``; gradients still flow through it to the contexts. Its output is
    image-independent, so in inference (eval mode, no grad) it is computed once and cached until
    the contexts or its weights change; the context decoder runs for every image/crop.

    Args:
        class_names: class names, or a registered dataset type to take them from.
        context_length: tokens per class name incl. start/end (5: at most 3 BPE tokens); the
            text encoder's ``context_length`` minus this is the number of learnable contexts.
        token_embed_dim: width of the contexts (text transformer width).
        text_dim: width of the text embeddings (= visual embedding width), size of ``gamma``.
        pretrained: local CLIP weight file for the backbone and the text encoder.
    """

    def __init__(self, backbone: dict, text_encoder: dict, context_decoder: dict,
                 decode_head: dict, class_names: Union[str, Sequence[str]],
                 context_length: int = 5, context_feature: str = 'attention',
                 score_concat_index: int = 3, text_head: bool = False, tau: float = 0.07,
                 identity_head: Optional[dict] = None, auxiliary_head: Optional[dict] = None,
                 neck: Optional[dict] = None, token_embed_dim: int = 512, text_dim: int = 1024,
                 freeze_text_encoder: bool = True, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 pretrained: Optional[str] = None, init_cfg=None):
        if context_feature != 'attention':
            raise ValueError(f"context_feature must be 'attention', got {context_feature!r}")
        if score_concat_index not in range(4):
            raise ValueError(f'score_concat_index must be 0..3, got {score_concat_index}')
        if pretrained is not None:
            if text_encoder.get('pretrained') is not None:
                raise ValueError('both the segmentor and the text encoder set pretrained')
            text_encoder = dict(text_encoder, pretrained=pretrained)
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck,
                         auxiliary_head=auxiliary_head, train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, pretrained=pretrained,
                         init_cfg=init_cfg)
        self.text_encoder = build_text_encoder(text_encoder)
        self.context_decoder = SEG_MODELS.build(context_decoder)
        self.identity_head = SEG_MODELS.build(identity_head) if identity_head else None
        self.score_concat_index, self.text_head, self.tau = score_concat_index, text_head, tau

        self.class_names = resolve_class_names(class_names)
        if len(self.class_names) != self.num_classes:
            raise ValueError(f'{len(self.class_names)} class names but the decode head has '
                             f'num_classes={self.num_classes}')
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

    def _visual_text_features(self, inputs: Tensor) -> Tuple[List[Tensor], Tensor, Tensor]:
        """Neck features with the score map fused in, the score map ``(B, K, h, w)`` and the
        refined text embeddings ``(B, K, C)``."""
        feats = self.backbone(inputs)
        pair = feats[-1] if len(feats) == 5 else None
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise TypeError('DenseCLIP needs a backbone returning 4 maps and [global, dense] '
                            'embeddings last: CLIPResNetWithAttention or '
                            'CLIPVisionTransformer(get_embeddings=True)')
        stages, (global_feat, dense) = list(feats[:4]), pair
        visual_context = torch.cat([global_feat.unsqueeze(1), dense.flatten(2).transpose(1, 2)],
                                   dim=1)
        text = self.text_embeddings().expand(dense.shape[0], -1, -1)
        text = text + self.gamma * self.context_decoder(text, visual_context)
        score_map = torch.einsum('bchw,bkc->bkhw', F.normalize(dense, dim=1),
                                 F.normalize(text, dim=2))
        index = self.score_concat_index
        stages[index] = torch.cat([stages[index], score_map], dim=1)
        if self.with_neck:
            stages = list(self.neck(stages))
        return stages, score_map, text

    def _decode_inputs(self, feats: List[Tensor], text: Tensor) -> list:
        return [text] + feats if self.text_head else feats

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Neck outputs of the backbone maps with the score map concatenated in."""
        return self._visual_text_features(inputs)[0]

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        feats, _, text = self._visual_text_features(inputs)
        return self.decode_head.predict(self._decode_inputs(feats, text), batch_img_metas,
                                        self.test_cfg)

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        feats, _, text = self._visual_text_features(inputs)
        return self.decode_head.forward(self._decode_inputs(feats, text))

    def loss(self, inputs: Tensor, data_samples) -> dict:
        feats, score_map, text = self._visual_text_features(inputs)
        losses = self._decode_head_forward_train(self._decode_inputs(feats, text), data_samples)
        if self.identity_head is not None:
            loss_identity = self.identity_head.loss(score_map / self.tau, data_samples,
                                                    self.train_cfg)
            losses.update(add_prefix(loss_identity, 'identity'))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(feats, data_samples))
        return losses
