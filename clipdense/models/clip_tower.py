"""Pieces shared by clipdense's CLIP towers: ``pretrained=`` loading and the transformer."""
import torch
from mmcv.cnn.bricks.drop import DropPath
from mmengine.logging import print_log
from torch import nn

from clipdense.clip import LoadReport, load_state_dict_into, read_weight_file, sub_state_dict


class CLIPWeightsMixin:
    """Gives a tower ``load_clip_weights(path)`` and loads ``self.pretrained`` in ``init_weights``.

    The file is read by the CLIP core (OpenAI archive, state dict, open_clip checkpoint,
    safetensors), entries under ``clip_weight_prefix`` are kept (prefix removed), filtered by
    :meth:`_select_weights`, and loaded with positional-embedding resizing (``clip_grid_mode``
    for 2D grids; text contexts are truncated). Mismatched shapes raise ``CLIPWeightsError``.
    """
    clip_weight_prefix = 'visual.'
    clip_grid_mode = 'bilinear'

    def init_weights(self):
        super().init_weights()
        if self.pretrained:
            self.load_clip_weights(self.pretrained)

    def load_clip_weights(self, path: str) -> LoadReport:
        """Loads this tower's weights from ``path``; logs and returns what did not match."""
        weights = self._select_weights(
            sub_state_dict(read_weight_file(path), self.clip_weight_prefix))
        if not weights:
            raise ValueError(f'{path} has no weights for {type(self).__name__} (expected '
                             f'{self.clip_weight_prefix or "text-tower "}* entries; is it a CLIP '
                             'checkpoint?)')
        report = load_state_dict_into(self, weights, grid_mode=self.clip_grid_mode, source=path)
        print_log(f'{type(self).__name__}: loaded {path}: {report.summary()}', 'current')
        return report

    def _select_weights(self, weights: dict) -> dict:
        """The checkpoint entries this module loads (all of them by default)."""
        return weights


class TokenDropPath(nn.Module):
    """Stochastic depth per token position: on a batch-first ``(B, L, C)`` residual branch, each
    of the ``L`` positions is zeroed with probability ``drop_prob`` for the whole batch (kept ones
    scaled by ``1 / (1 - drop_prob)``).

    This is what the original DenseCLIP ViT trained with: it applied the usual per-sample
    DropPath to sequence-first ``(L, B, C)`` tensors, so the mask ran over positions, not images.
    """

    def __init__(self, drop_prob: float = 0.):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0. or not self.training:
            return x
        keep_prob = 1 - self.drop_prob
        shape = (1, x.shape[1]) + (1, ) * (x.ndim - 2)
        mask = torch.rand(shape, dtype=x.dtype, device=x.device).add_(keep_prob).floor_()
        return x.div(keep_prob) * mask

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}, per token position'


def build_clip_transformer(width: int, layers: int, heads: int, quick_gelu: bool = True,
                           drop_path_rate: float = 0.,
                           drop_path_per_token: bool = False) -> nn.Module:
    """open_clip's batch-first ``Transformer`` (OpenAI parameter names) with stochastic depth
    rising linearly from 0 to ``drop_path_rate`` over the blocks, per sample or (with
    ``drop_path_per_token``) per token position as in the original DenseCLIP ViT."""
    from open_clip.transformer import QuickGELU, Transformer
    transformer = Transformer(width, layers, heads,
                              act_layer=QuickGELU if quick_gelu else nn.GELU)
    if drop_path_rate > 0:
        drop = TokenDropPath if drop_path_per_token else DropPath
        # rates on the CPU: buildable under a meta/cuda default device (shape-only builds)
        rates = torch.linspace(0, drop_path_rate, layers, device='cpu').tolist()
        for block, rate in zip(transformer.resblocks, rates):
            # the residual branches pass through ls_1/ls_2 (Identity without layer scale)
            block.ls_1, block.ls_2 = drop(rate), drop(rate)
    return transformer
