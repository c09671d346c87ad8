"""DenseCLIP Mask R-CNN (two-stage detection and instance segmentation) on mmdet 3.x."""
from typing import Optional, Sequence, Union

from mmdet.models.detectors import TwoStageDetector

from clipdense.registry import DET_MODELS

from .denseclip_detector import DenseCLIPDetectorMixin, check_unused_original_args


@DET_MODELS.register_module()
class DenseCLIPMaskRCNN(DenseCLIPDetectorMixin, TwoStageDetector):
    """Mask R-CNN with DenseCLIP's language-guided features (the original's
    ``DenseCLIP_MaskRCNN``, same constructor arguments; see :class:`DenseCLIPDetectorMixin`).

    Args as :class:`~clipdense.models.detectors.DenseCLIPRetinaNet`; the number of class names
    must equal ``roi_head.bbox_head.num_classes``, and the auxiliary loss is ``loss_aux_seg``.
    ``clip_head`` is accepted and unused (as in the original); ``text_adapter`` and
    ``bbox_head`` were unused there and must stay None.
    """

    def __init__(self, backbone: dict, text_encoder: dict, context_decoder: dict,
                 context_length: int, class_names: Union[str, Sequence[str]],
                 seg_loss: bool = False, clip_head: bool = True,
                 text_adapter: Optional[dict] = None, tau: float = 0.07,
                 token_embed_dim: int = 512, text_dim: int = 1024, neck: Optional[dict] = None,
                 rpn_head: Optional[dict] = None, roi_head: Optional[dict] = None,
                 bbox_head: Optional[dict] = None, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, pretrained: Optional[str] = None,
                 score_concat_index: int = 3, freeze_text_encoder: bool = True,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        del clip_head
        check_unused_original_args(text_adapter=text_adapter, bbox_head=bbox_head)
        backbone, text_encoder = self._route_pretrained(pretrained, backbone, text_encoder,
                                                         'detector')
        super().__init__(backbone=backbone, neck=neck, rpn_head=rpn_head, roi_head=roi_head,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self._init_denseclip(text_encoder, context_decoder, class_names,
                             self.roi_head.bbox_head.num_classes, context_length, tau,
                             token_embed_dim, text_dim, score_concat_index, seg_loss,
                             freeze_text_encoder)
