"""Class names -> a zero-shot text classifier ``(K, D)``, cached on disk.

Each class is one name or several synonyms (``'person; man; woman'`` or a list). Every
(synonym, template) prompt is encoded and L2-normalised; a class embedding is their mean,
L2-normalised again. Results are cached under a key of (encoder fingerprint, names, templates),
where the fingerprint hashes the text tower's weights, so changed weights never hit a stale entry.
"""
import hashlib
import json
import os
from typing import Callable, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from clipdense.utils.atomic_io import atomic_save

from .templates import get_templates
from .tokenizer import CLIPTokenizer

ClassNames = Sequence[Union[str, Sequence[str]]]


def parse_class_names(class_names: ClassNames) -> List[List[str]]:
    """Normalises class names to lists of synonyms; ``'a; b'`` splits on semicolons."""
    if isinstance(class_names, str):
        raise TypeError('class_names must be a sequence of names, not one string; use '
                        'parse_vocabulary() for a comma-separated string')
    parsed = []
    for index, entry in enumerate(class_names):
        synonyms = entry.split(';') if isinstance(entry, str) else list(entry)
        synonyms = [s.strip() for s in synonyms if s and s.strip()]
        if not synonyms:
            raise ValueError(f'class #{index} ({entry!r}) has an empty name')
        parsed.append(synonyms)
    if not parsed:
        raise ValueError('the vocabulary is empty: give at least one class name')
    _reject_duplicates(parsed)
    return parsed


def _reject_duplicates(vocabulary: List[List[str]]) -> None:
    """A name (case and spacing aside, as CLIP's tokenizer sees it) may name one class once:
    repeated names tie and silently change which class wins."""
    owners = {}
    for index, synonyms in enumerate(vocabulary):
        for name in synonyms:
            owners.setdefault(' '.join(name.lower().split()), []).append(index)
    repeated = {name: classes for name, classes in owners.items() if len(classes) > 1}
    if repeated:
        described = ', '.join(f'{name!r} (classes ' + ', '.join(f'#{i}' for i in classes) + ')'
                              for name, classes in repeated.items())
        raise ValueError(f'duplicate class names: {described}; each name may appear once')


def parse_vocabulary(text: str) -> List[List[str]]:
    """``'cat, dog; puppy, grass'`` -> ``[['cat'], ['dog', 'puppy'], ['grass']]``."""
    return parse_class_names([part for part in text.replace('\n', ',').split(',')
                              if part.strip()])


def module_fingerprint(module: nn.Module) -> str:
    """A short hash of a module's parameter and buffer names, shapes, dtypes and values."""
    digest = hashlib.sha256()
    for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
        digest.update(f'{name}:{tuple(tensor.shape)}:{tensor.dtype}'.encode())
        raw = tensor.detach().cpu().contiguous().reshape(-1)  # reshape: 0-dim tensors too
        digest.update(raw.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:20]


class TextClassifierCache:
    """Stores classifiers as ``<cache_dir>/<key>.pt`` (loaded back with ``weights_only=True``)."""

    def __init__(self, cache_dir: str):
        self.cache_dir = os.path.expanduser(cache_dir)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(encoder_id: str, synonyms: List[List[str]], templates: List[str]) -> str:
        payload = json.dumps([encoder_id, synonyms, templates], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def path(self, key: str) -> str:
        return os.path.join(self.cache_dir, f'{key}.pt')

    def load(self, key: str) -> Optional[torch.Tensor]:
        path = self.path(key)
        if not os.path.isfile(path):
            self.misses += 1
            return None
        self.hits += 1
        return torch.load(path, map_location='cpu', weights_only=True)['embeddings']

    def save(self, key: str, embeddings: torch.Tensor, meta: dict) -> None:
        entry = dict(embeddings=embeddings.cpu(), **meta)
        atomic_save(self.path(key), lambda f: torch.save(entry, f))  # never half-written


@torch.no_grad()
def build_text_classifier(encode_text: Callable[[torch.Tensor], torch.Tensor],
                          class_names: ClassNames,
                          templates: Union[str, Sequence[str]] = 'imagenet80', *,
                          encoder_id: str, tokenizer: Optional[CLIPTokenizer] = None,
                          cache: Optional[TextClassifierCache] = None,
                          batch_size: int = 256, device=None) -> torch.Tensor:
    """Returns L2-normalised class embeddings ``(K, D)``.

    Args:
        encode_text: token ids ``(N, L)`` -> embeddings ``(N, D)`` (e.g. ``clip.encode_text``).
        encoder_id: identifies the text encoder and its weights (see :func:`module_fingerprint`).
        cache: optional disk cache; a hit skips the text encoder entirely.
    """
    synonyms = parse_class_names(class_names)
    template_list = get_templates(templates)
    key = TextClassifierCache.key(encoder_id, synonyms, template_list)
    if cache is not None:
        cached = cache.load(key)
        if cached is not None:
            return cached.to(device) if device is not None else cached
    tokenizer = tokenizer or CLIPTokenizer()
    prompts, owner = [], []
    for class_index, names in enumerate(synonyms):
        for name in names:
            for template in template_list:
                prompts.append(template.format(name))
                owner.append(class_index)
    chunks = []
    for start in range(0, len(prompts), batch_size):
        ids = tokenizer(prompts[start:start + batch_size])
        if device is not None:
            ids = ids.to(device)
        chunks.append(F.normalize(encode_text(ids).float(), dim=-1))
    prompt_embeddings = torch.cat(chunks)
    owner = torch.tensor(owner, device=prompt_embeddings.device)
    sums = torch.zeros(len(synonyms), prompt_embeddings.shape[1],
                       device=prompt_embeddings.device).index_add_(0, owner, prompt_embeddings)
    classifier = F.normalize(sums, dim=-1)
    if cache is not None:
        cache.save(key, classifier, dict(names=synonyms, templates=template_list,
                                         encoder_id=encoder_id))
    return classifier
