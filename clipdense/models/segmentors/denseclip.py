"""DenseCLIP: pixel-text matching with context-aware prompting, on mmseg's EncoderDecoder."""
from typing import List, Optional, Sequence, Tuple, Union

from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import add_prefix
from torch import Tensor

from clipdense.registry import SEG_MODELS

from ..text.denseclip_prompt import ContextAwarePrompting
from ..text.denseclip_prompt import resolve_class_names  # noqa: F401  (its former home)


@SEG_MODELS.register_module()
class DenseCLIP(ContextAwarePrompting, EncoderDecoder):
    """DenseCLIP segmentor.

    Per image: backbone -> stage maps + ``[global (B, C), dense (B, C, h, w)]``; text embeddings
    ``t`` of the class names with learnable contexts ``(1, K, C)``; ``t += gamma *
    ContextDecoder(t, [global; dense tokens])``; the cosine score map ``(B, K, h, w)`` of dense
    features and ``t`` is concatenated onto stage ``score_concat_index``; neck -> decode head.
    Training adds the identity head's loss on ``score_map / tau``. The text side (tokens,
    contexts, frozen and cached text encoder, context decoder, ``gamma``, score map) is
    :class:`~clipdense.models.text.ContextAwarePrompting`, shared with the DenseCLIP detectors;
    :meth:`pixel_text_scores` gives the refined text embeddings and the score map.

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
        self._check_score_concat_index(score_concat_index)
        backbone, text_encoder = self._route_pretrained(pretrained, backbone, text_encoder,
                                                        'segmentor')
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck,
                         auxiliary_head=auxiliary_head, train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self._build_text_modules(text_encoder, context_decoder, SEG_MODELS)
        self.identity_head = SEG_MODELS.build(identity_head) if identity_head else None
        self.score_concat_index, self.text_head, self.tau = score_concat_index, text_head, tau
        self._init_prompts(class_names, context_length, token_embed_dim, text_dim,
                           freeze_text_encoder)
        if len(self.class_names) != self.num_classes:
            raise ValueError(f'{len(self.class_names)} class names but the decode head has '
                             f'num_classes={self.num_classes}')

    def _visual_text_features(self, inputs: Tensor) -> Tuple[List[Tensor], Tensor, Tensor]:
        """Neck features with the score map fused in, the score map ``(B, K, h, w)`` and the
        refined text embeddings ``(B, K, C)``."""
        stages, (text, score_map) = self._backbone_pixel_text(inputs)
        return list(self._fuse_score_map(stages, score_map)), score_map, text

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
