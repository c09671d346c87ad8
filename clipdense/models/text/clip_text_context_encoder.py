"""CLIP's text tower with learnable context tokens shared by all classes (DenseCLIP)."""
from typing import Sequence

import torch

from clipdense.clip import CLIPTokenizer, TokenBudgetError
from clipdense.registry import register_model

from .clip_text_encoder import CLIPTextEncoder


@register_model()
class CLIPTextContextEncoder(CLIPTextEncoder):
    """Class-name tokens ``(K, L)`` and contexts ``(B, N, width)`` -> ``(B, K, embed_dim)``.

    Each sequence is ``[SOT, context x N, name tokens, EOT, pad]``; ``L + N`` must equal
    ``context_length`` (DenseCLIP: 5 + 8 = 13, the first 13 rows of CLIP's positional embedding).
    """

    def __init__(self, context_length: int = 13, **kwargs):
        super().__init__(context_length=context_length, **kwargs)

    @staticmethod
    def tokenize_class_names(class_names: Sequence[str], name_length: int) -> torch.Tensor:
        """``(K, name_length)`` ids ``[SOT, name, EOT, 0...]``; a name that does not fit raises
        :class:`TokenBudgetError` naming the class and its token count."""
        tokenizer = CLIPTokenizer(name_length)
        for name in class_names:
            count = len(tokenizer.encode(name))
            if count + 2 > name_length:
                raise TokenBudgetError(
                    f'class name {name!r} is {count} BPE tokens, but the name budget is '
                    f'{name_length - 2} (context_length={name_length} includes start and end '
                    'tokens). Shorten the name, or raise the segmentor\'s context_length and the '
                    'text encoder\'s context_length by the same amount.')
        return tokenizer(list(class_names))

    def forward(self, text: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        num_classes, name_length = text.shape
        batch, num_context, width = context.shape
        if name_length + num_context != self.context_length:
            raise ValueError(f'{name_length} name tokens + {num_context} context tokens != '
                             f'context_length {self.context_length}')
        names = self.token_embedding(text).expand(batch, -1, -1, -1)  # (B, K, L, width)
        context = context.unsqueeze(1).expand(-1, num_classes, -1, -1)
        x = torch.cat([names[:, :, :1], context, names[:, :, 1:]], dim=2)
        eot_index = (text.argmax(dim=-1) + num_context).repeat(batch)
        x = self.encode_embeddings(x.reshape(batch * num_classes, self.context_length, width),
                                   eot_index)
        return x.reshape(batch, num_classes, -1)
