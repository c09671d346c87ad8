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


def build_clip_transformer(width: int, layers: int, heads: int, quick_gelu: bool = True,
                           drop_path_rate: float = 0.) -> nn.Module:
    """open_clip's batch-first ``Transformer`` (OpenAI parameter names) with stochastic depth
    rising linearly from 0 to ``drop_path_rate`` over the blocks."""
    from open_clip.transformer import QuickGELU, Transformer
    transformer = Transformer(width, layers, heads,
                              act_layer=QuickGELU if quick_gelu else nn.GELU)
    if drop_path_rate > 0:
        for block, rate in zip(transformer.resblocks, torch.linspace(0, drop_path_rate, layers)):
            # the residual branches pass through ls_1/ls_2 (Identity without layer scale)
            block.ls_1, block.ls_2 = DropPath(rate.item()), DropPath(rate.item())
    return transformer
