"""Text-side modules: CLIP text encoders (plain, with learnable contexts), context decoder."""
from .clip_text_context_encoder import CLIPTextContextEncoder
from .clip_text_encoder import CLIPTextEncoder
from .context_decoder import ContextDecoder
from .registry import TEXT_ENCODERS, build_text_encoder

__all__ = ['CLIPTextEncoder', 'CLIPTextContextEncoder', 'ContextDecoder', 'TEXT_ENCODERS',
           'build_text_encoder']
