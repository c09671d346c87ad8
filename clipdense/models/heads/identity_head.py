"""DenseCLIP's auxiliary pixel-text loss: the score map itself is the prediction."""
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

from clipdense.registry import SEG_MODELS


@SEG_MODELS.register_module()
class IdentityHead(BaseDecodeHead):
    """Passes its input, the pixel-text score map divided by tau ``(B, K, h, w)``, through as
    logits; ``loss`` upsamples them to the label size (CE, ignore index 255; DenseCLIP weights
    it 0.4). No parameters: checkpoints of the original have no ``identity_head.*`` keys."""

    def __init__(self, in_channels: int = 1, channels: int = 1, **kwargs):
        kwargs.setdefault('init_cfg', None)  # there is no conv_seg to initialise
        super().__init__(in_channels, channels, **kwargs)
        del self.conv_seg

    def forward(self, inputs):
        return inputs
