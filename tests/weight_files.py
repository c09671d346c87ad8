"""Writes CLIP state dicts in the formats users bring: TorchScript archives like OpenAI's,
plain/nested torch.save files, open_clip checkpoints and safetensors."""
import torch
from torch import nn


class _AttributeHolder(nn.Module):
    """A scriptable node: the archive keeps its tensors as attributes, like OpenAI's archives."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def save_torchscript_archive(state_dict, path, input_resolution=224):
    root = _AttributeHolder()
    for key, value in state_dict.items():
        *parents, leaf = key.split('.')
        node = root
        for name in parents:
            if name not in node._modules:
                node.add_module(name, _AttributeHolder())
            node = node._modules[name]
        node.register_parameter(leaf, nn.Parameter(value.detach().clone(), requires_grad=False))
    # OpenAI archives also carry architecture metadata as tensors; readers must drop them.
    root.register_buffer('input_resolution', torch.tensor(input_resolution))
    root.register_buffer('context_length', torch.tensor(77))
    torch.jit.script(root).save(str(path))


def save_open_clip_checkpoint(state_dict, path):
    torch.save({'epoch': 3, 'name': 'tiny',
                'state_dict': {f'module.{k}': v for k, v in state_dict.items()}}, str(path))


def save_safetensors(state_dict, path):
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in state_dict.items()}, str(path))
