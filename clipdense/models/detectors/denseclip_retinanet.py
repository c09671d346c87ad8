"""DenseCLIP RetinaNet (one-stage detection) on mmdet 3.x."""
from typing import Optional, Sequence, Union

from mmdet.models.detectors import SingleStageDetector

from clipdense.registry import DET_MODELS

from .denseclip_detector import DenseCLIPDetectorMixin


@DET_MODELS.register_module()
class DenseCLIPRetinaNet(DenseCLIPDetectorMixin, SingleStageDetector):
    """RetinaNet with DenseCLIP's language-guided features (the original's
    ``DenseCLIP_RetinaNet``, same constructor arguments; see :class:`DenseCLIPDetectorMixin`).

    Args:
        class_names: class names, or a registered dataset type to take them from
            (``'CocoDataset'``); their number must equal ``bbox_head.num_classes``.
        context_length: tokens per class name incl. start/end (5: at most 3 BPE tokens).
        tau: temperature; the fused and supervised score map is ``cosine / tau``.
        seg_loss: add the auxiliary box-occupancy loss (``loss_seg``; on in the original's
            configs).
        score_concat_index: backbone level receiving the score map (3; 2 for ViT-B/16).
        pretrained: one local CLIP file for the backbone and the text encoder.
        clip_head: accepted for the original's configs; unused there too.
    """
    aux_loss_name = 'loss_seg'  # the original RetinaNet's name

    def __init__(self, backbone: dict, text_encoder: dict, context_decoder: dict,
                 context_length: int, class_names: Union[str, Sequence[str]], tau: float = 0.07,
                 token_embed_dim: int = 512, text_dim: int = 1024, neck: Optional[dict] = None,
                 bbox_head: Optional[dict] = None, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, pretrained: Optional[str] = None,
                 seg_loss: bool = False, clip_head: bool = True, score_concat_index: int = 3,
                 freeze_text_encoder: bool = True, data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        del clip_head
        backbone, text_encoder = self._route_pretrained(pretrained, backbone, text_encoder,
                                                         'detector')
        super().__init__(backbone=backbone, neck=neck, bbox_head=bbox_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self._init_denseclip(text_encoder, context_decoder, class_names,
                             self.bbox_head.num_classes, context_length, tau, token_embed_dim,
                             text_dim, score_concat_index, seg_loss, freeze_text_encoder)
