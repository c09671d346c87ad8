"""CLIP's byte-pair-encoding tokenizer (open_clip's vocabulary, bundled with it)."""
from functools import lru_cache
from typing import List, Sequence, Union

import torch


class TokenBudgetError(ValueError):
    """A text needs more tokens than the context length allows."""


@lru_cache(maxsize=1)
def _bpe():
    from open_clip.tokenizer import SimpleTokenizer
    return SimpleTokenizer()


class CLIPTokenizer:
    """Tokenises texts to ``(N, context_length)`` id tensors: ``[SOT, tokens..., EOT, 0...]``.

    Unlike open_clip's tokenizer, a text that does not fit raises :class:`TokenBudgetError` naming
    the text and its token count, unless ``truncate=True`` is asked for explicitly.
    """

    def __init__(self, context_length: int = 77):
        self.context_length = context_length

    @property
    def sot_token_id(self) -> int:
        return _bpe().sot_token_id

    @property
    def eot_token_id(self) -> int:
        return _bpe().eot_token_id

    @property
    def vocab_size(self) -> int:
        return _bpe().vocab_size

    def encode(self, text: str) -> List[int]:
        """BPE ids of ``text`` without the start/end tokens."""
        return _bpe().encode(text)

    def __call__(self, texts: Union[str, Sequence[str]], context_length: int = None,
                 truncate: bool = False) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        length = context_length or self.context_length
        ids = torch.zeros(len(texts), length, dtype=torch.long)
        for row, text in enumerate(texts):
            tokens = [self.sot_token_id] + self.encode(text) + [self.eot_token_id]
            if len(tokens) > length:
                if not truncate:
                    raise TokenBudgetError(
                        f'text {text!r} needs {len(tokens)} tokens (with start/end) but the '
                        f'context length is {length}; shorten it or raise the context length')
                tokens = tokens[:length - 1] + [self.eot_token_id]
            ids[row, :len(tokens)] = torch.tensor(tokens)
        return ids
