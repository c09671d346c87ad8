"""Read the tensors of a TorchScript archive (e.g. OpenAI's ``RN50.pt``) without executing it.

``torch.jit.load`` would compile and run the archive's code. Instead the archive's ``data.pkl`` is
unpickled with an allow-list: TorchScript module classes become inert attribute holders, tensors
are rebuilt from the raw storage records, and any other global is refused.
"""
import pickle
import zipfile
from typing import Dict

import torch

_STORAGE_DTYPES = {
    'FloatStorage': torch.float32, 'HalfStorage': torch.float16, 'BFloat16Storage': torch.bfloat16,
    'DoubleStorage': torch.float64, 'LongStorage': torch.int64, 'IntStorage': torch.int32,
    'ShortStorage': torch.int16, 'CharStorage': torch.int8, 'ByteStorage': torch.uint8,
    'BoolStorage': torch.bool,
}


class _ScriptObject:
    """Stands in for a ``__torch__.*`` module: records the pickled attribute state only."""

    def __init__(self, *args):
        self.state = {}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {'__state__': state}


class _StorageType:
    def __init__(self, name):
        self.dtype = _STORAGE_DTYPES[name]


def _rebuild_tensor(storage, offset, size, stride, *unused):
    return storage.as_strided(tuple(size), tuple(stride), offset)


def _rebuild_parameter(data, *unused):
    return data


def _first_argument(value, *unused):
    return value


class _ArchiveUnpickler(pickle.Unpickler):

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix
        self._storages = {}

    def find_class(self, module, name):
        if module.startswith('__torch__'):
            return _ScriptObject
        if module == 'torch' and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == 'torch._utils' and name == '_rebuild_tensor_v2':
            return _rebuild_tensor
        if module == 'torch._utils' and name == '_rebuild_parameter':
            return _rebuild_parameter
        if module == 'torch.jit._pickle' and name == 'restore_type_tag':
            return _first_argument
        if module == 'collections' and name == 'OrderedDict':
            import collections
            return collections.OrderedDict
        raise pickle.UnpicklingError(
            f'TorchScript archive refers to {module}.{name}, which is not allowed when reading '
            'weights without executing the archive')

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid[:5]
        if kind != 'storage':
            raise pickle.UnpicklingError(f'unsupported persistent id {pid!r}')
        if key not in self._storages:
            raw = bytearray(self._archive.read(f'{self._prefix}data/{key}'))
            flat = torch.frombuffer(raw, dtype=storage_type.dtype) if raw else torch.empty(
                0, dtype=storage_type.dtype)
            self._storages[key] = flat[:numel]
        return self._storages[key]


def is_torchscript_archive(path: str) -> bool:
    """True when ``path`` is a zip archive with TorchScript code (``<name>/code/...``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any('/code/' in name or name.startswith('code/') for name in archive.namelist())


def read_torchscript_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Returns ``{dotted.name: tensor}`` for every tensor attribute of the archived module tree."""
    with zipfile.ZipFile(path) as archive:
        data_pkl = [n for n in archive.namelist() if n.endswith('data.pkl') and n.count('/') <= 1]
        if not data_pkl:
            raise ValueError(f'{path}: TorchScript archive without data.pkl')
        prefix = data_pkl[0][:-len('data.pkl')]
        with archive.open(data_pkl[0]) as f:
            root = _ArchiveUnpickler(f, archive, prefix).load()
    state_dict = {}
    _collect_tensors(root, '', state_dict)
    return {k: v.clone() for k, v in state_dict.items()}


def _collect_tensors(node, prefix, out):
    if isinstance(node, torch.Tensor):
        out[prefix[:-1]] = node
    elif isinstance(node, _ScriptObject):
        for name, value in node.state.items():
            _collect_tensors(value, f'{prefix}{name}.', out)
    elif isinstance(node, dict):
        for name, value in node.items():
            if isinstance(name, str):
                _collect_tensors(value, f'{prefix}{name}.', out)
