"""The CLIP core shared by every method: towers, local weights, tokenizer, prompts, classifiers."""
from .architectures import get_clip_config, guess_model_name, infer_clip_config
from .model import build_clip, is_hub_tag
from .templates import VILD_TEMPLATES, get_templates, imagenet_templates
from .text_classifier import (TextClassifierCache, build_text_classifier, module_fingerprint,
                              parse_class_names, parse_vocabulary)
from .tokenizer import CLIPTokenizer, TokenBudgetError
from .torchscript import is_torchscript_archive, read_torchscript_state_dict
from .weights import (CLIPWeightsError, LoadReport, load_state_dict_into, normalize_state_dict,
                      read_weight_file, resize_grid_pos_embed, sub_state_dict)

__all__ = [
    'get_clip_config', 'guess_model_name', 'infer_clip_config', 'build_clip', 'is_hub_tag',
    'VILD_TEMPLATES', 'get_templates', 'imagenet_templates', 'TextClassifierCache',
    'build_text_classifier', 'module_fingerprint', 'parse_class_names', 'parse_vocabulary',
    'CLIPTokenizer', 'TokenBudgetError', 'is_torchscript_archive',
    'read_torchscript_state_dict', 'CLIPWeightsError', 'LoadReport', 'load_state_dict_into',
    'normalize_state_dict', 'read_weight_file', 'resize_grid_pos_embed', 'sub_state_dict'
]
