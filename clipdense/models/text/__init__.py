"""Text-side modules: CLIP text encoders (plain, with learnable contexts), context decoder, and
DenseCLIP's text/context path shared by its segmentor and detectors."""
from .clip_text_context_encoder import CLIPTextContextEncoder
from .clip_text_encoder import CLIPTextEncoder
from .context_decoder import ContextDecoder
from .denseclip_prompt import ContextAwarePrompting, PixelTextScores, resolve_class_names
from .registry import TEXT_ENCODERS, build_text_encoder

__all__ = ['CLIPTextEncoder', 'CLIPTextContextEncoder', 'ContextDecoder', 'TEXT_ENCODERS',
           'build_text_encoder', 'ContextAwarePrompting', 'PixelTextScores',
           'resolve_class_names']
