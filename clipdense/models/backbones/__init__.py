from .clip_resnet import CLIPResNet

__all__ = ['CLIPResNet']
from .clip_resnet_attention import CLIPResNetWithAttention  # noqa: F401,E402
from .clip_vit import CLIPVisionTransformer  # noqa: F401,E402
from .maskclip_vit import MaskCLIPViT  # noqa: F401,E402
from .mask_prompt_clip_vit import MaskPromptCLIPViT  # noqa: F401,E402  (OVSeg)
