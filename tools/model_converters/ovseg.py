"""Convert a released OVSeg checkpoint (detectron2 layout) for clipdense's ``OVSeg``.

    python tools/model_converters/ovseg.py ovseg_R101c_vitB16_ft_mpt.pth \
        pretrained/ovseg_r101c_vit-b16.pth
    python tools/model_converters/ovseg.py ovseg_swinbase_vitL14_ft_mpt.pth \
        pretrained/ovseg_swin-b_vit-l14.pth

Source layout (``{'model': {...}}`` or a plain state dict):

* ``backbone.*``: detectron2's DeepLab ResNet (``stem.conv1..3``, ``res2..res5``; R101c) or
  D2SwinTransformer (``patch_embed``, ``layers.N``, ``norm0..3``; Swin-B);
* ``sem_seg_head.pixel_decoder.*`` (``adapter_1..3``, ``layer_1..4``, ``mask_features``) and
  ``sem_seg_head.predictor.*`` (``query_embed``, ``input_proj``, ``transformer.decoder``,
  ``mask_embed.layers``, ``class_embed.layers``: the open-vocabulary MLP);
* ``clip_adapter.non_object_embedding`` and ``clip_adapter.clip_model.*``, the mask-adapted
  CLIP (OpenAI naming, ``visual.mask_embedding``).

Writes two files (atomically; plain tensors, ``torch.load(weights_only=True)`` reads them):

* DST, ``{'state_dict', 'meta'}`` for ``tools/test.py CONFIG DST``: ``backbone.*`` (mmseg
  ``ResNetV1c`` / ``SwinTransformer``) and ``decode_head.*`` (``OVSegMaskFormerHead``: mmdet
  ``PixelDecoder`` and ``DetrTransformerDecoder``, ``cls_embed`` = ``OVSegClassHead`` with the
  no-object embedding);
* the CLIP as one OpenAI-named file (``--clip-dst``, default ``<DST stem>_clip.pth``), written
  by ``tools/model_converters/ovseg_clip.py``; the configs' ``clip_classifier.clip.pretrained``
  points at it. ``--no-clip`` skips it (the released file itself also works as ``pretrained``).
"""
import argparse
import os.path as osp
import pickle
import re
import sys
from typing import Dict, Tuple

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from clipdense.utils import atomic_save  # noqa: E402

StateDict = Dict[str, torch.Tensor]

# buffers of the original that have no counterpart (recomputed or constants)
DROPPED = (re.compile(r'^criterion\.'), re.compile(r'^pixel_(mean|std)$'),
           re.compile(r'^clip_adapter\.(pixel_mean|pixel_std)$'),
           re.compile(r'^clip_adapter\.text_templates\.'),
           re.compile(r'\.attn_mask$'))


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles detectron2's ``.pkl`` weight files (dicts of numpy arrays) and nothing else:
    only numpy's array reconstruction is importable, so no code can run."""
    ALLOWED = {(module, name) for module in ('numpy.core.multiarray', 'numpy._core.multiarray')
               for name in ('_reconstruct', 'scalar')} | {
                   ('numpy', 'ndarray'), ('numpy', 'dtype'), ('collections', 'OrderedDict')}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f'{module}.{name} is not allowed in a weight file')
        return super().find_class(module, name)


def read_checkpoint(path: str) -> StateDict:
    """Tensors of a detectron2 checkpoint (``{'model': ...}``; ``.pth`` read weights-only,
    ``.pkl`` through an unpickler that only rebuilds numpy arrays) or a plain state dict."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        if path.endswith('.pkl'):
            with open(path, 'rb') as f:
                content = _ArrayUnpickler(f, encoding='latin1').load()
        else:
            content = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # pickle errors of several kinds
        raise ValueError(f'{path} cannot be read as weights only ({err}); checkpoints holding '
                         'other objects are not unpickled') from err
    if isinstance(content, dict) and isinstance(content.get('model'), dict):
        content = content['model']
    elif isinstance(content, dict) and isinstance(content.get('state_dict'), dict):
        content = content['state_dict']
    if not isinstance(content, dict):
        raise ValueError(f'{path} holds a {type(content).__name__}, not a state dict')
    return {k: torch.as_tensor(v) for k, v in content.items()
            if isinstance(v, (torch.Tensor, np.ndarray))}


# ---------------------------------------------------------------------------------- backbones
def convert_resnet_deeplab(backbone: StateDict) -> StateDict:
    """detectron2 DeepLab ResNet (``stem.conv1..3``, ``resN.B.convK``/``shortcut``, each with a
    ``.norm``) -> mmseg ``ResNetV1c`` (``stem.{0,1,3,4,6,7}``, ``layerN.B.convK``/``bnK``,
    ``downsample.{0,1}``). FrozenBN statistics become BN buffers."""
    out = {}
    stem_index = {'conv1': 0, 'conv2': 3, 'conv3': 6}
    for key, value in backbone.items():
        match = re.fullmatch(r'stem\.(conv[123])\.(norm\.)?(\w+)', key)
        if match:
            conv, norm, param = match.groups()
            index = stem_index[conv] + (1 if norm else 0)
            out[f'stem.{index}.{param}'] = value
            continue
        match = re.fullmatch(r'res([2-5])\.(\d+)\.(conv[123]|shortcut)\.(norm\.)?(\w+)', key)
        if not match:
            raise KeyError(f'unexpected ResNet key backbone.{key}')
        stage, block, conv, norm, param = match.groups()
        prefix = f'layer{int(stage) - 1}.{block}'
        if conv == 'shortcut':
            out[f'{prefix}.downsample.{1 if norm else 0}.{param}'] = value
        else:
            out[f'{prefix}.{"bn" + conv[-1] if norm else conv}.{param}'] = value
    for key in [k for k in out if k.endswith('running_var')]:
        out[key[:-len('running_var')] + 'num_batches_tracked'] = torch.tensor(0)
    return out


def convert_swin(backbone: StateDict) -> StateDict:
    """Swin (official / D2SwinTransformer naming) -> mmseg ``SwinTransformer``, by mmdet's
    ``swin_converter`` (renames, and reorders the patch-merging weights for mmcv's unfold)."""
    from mmdet.models.backbones.swin import swin_converter
    unknown = [k for k in backbone if not re.match(r'(patch_embed|layers\.\d+|norm\d)\.', k)]
    if unknown:
        raise KeyError(f'unexpected Swin keys: {["backbone." + k for k in unknown[:8]]}')
    return {k[len('backbone.'):]: v for k, v in swin_converter(backbone).items()}


# ----------------------------------------------------------------------------- MaskFormer head
def _pixel_decoder_key(kind: str, index: str, norm: str, param: str) -> str:
    """BasePixelDecoder ``adapter_i`` (laterals, res2..res4), ``layer_i`` (outputs; ``layer_4``
    is the 3x3 conv on res5) -> mmdet ``PixelDecoder`` ConvModules."""
    index = int(index) - 1
    module = (f'lateral_convs.{index}' if kind == 'adapter' else
              'last_feat_conv' if index == 3 else f'output_convs.{index}')
    return f'pixel_decoder.{module}.{"gn" if norm else "conv"}.{param}'


DECODER_LAYER = {'self_attn': 'self_attn.attn', 'multihead_attn': 'cross_attn.attn',
                 'linear1': 'ffn.layers.0.0', 'linear2': 'ffn.layers.1',
                 'norm1': 'norms.0', 'norm2': 'norms.1', 'norm3': 'norms.2'}
# (pattern of a sem_seg_head key, its OVSegMaskFormerHead name from the pattern's groups)
HEAD_RULES = (
    (r'pixel_decoder\.(adapter|layer)_(\d)\.(norm\.)?(\w+)', _pixel_decoder_key),
    (r'pixel_decoder\.mask_features\.(\w+)', lambda p: f'pixel_decoder.mask_feature.{p}'),
    (r'predictor\.transformer\.decoder\.layers\.(\d+)\.(%s)\.(.+)' % '|'.join(DECODER_LAYER),
     lambda layer, m, p: f'transformer_decoder.layers.{layer}.{DECODER_LAYER[m]}.{p}'),
    (r'predictor\.transformer\.decoder\.norm\.(\w+)',
     lambda p: f'transformer_decoder.post_norm.{p}'),
    # MLP(3 layers) -> Sequential(Linear, ReLU, Linear, ReLU, Linear)
    (r'predictor\.mask_embed\.layers\.(\d)\.(\w+)', lambda i, p: f'mask_embed.{2 * int(i)}.{p}'),
    (r'predictor\.class_embed\.layers\.(\d)\.(\w+)', lambda i, p: f'cls_embed.layers.{i}.{p}'),
    (r'predictor\.query_embed\.weight', lambda: 'query_embed.weight'),
    (r'predictor\.input_proj\.(weight|bias)', lambda p: f'decoder_input_proj.{p}'),
)


def convert_sem_seg_head(head: StateDict) -> StateDict:
    """``sem_seg_head.*`` (keys without the prefix) -> ``OVSegMaskFormerHead`` keys."""
    out = {}
    for key, value in head.items():
        for pattern, rename in HEAD_RULES:
            match = re.fullmatch(pattern, key)
            if match:
                out[rename(*match.groups())] = value
                break
        else:
            note = (': a transformer encoder (ENC_LAYERS > 0) is not part of OVSeg\'s configs'
                    if key.startswith('predictor.transformer.encoder.') else '')
            raise KeyError(f'unexpected head key sem_seg_head.{key}{note}')
    return out


# ------------------------------------------------------------------------------------- driver
def split_prefixes(state_dict: StateDict) -> Dict[str, StateDict]:
    """Groups keys by their top-level part (``backbone``, ``sem_seg_head``, ``clip_adapter``)."""
    groups: Dict[str, StateDict] = {'backbone': {}, 'sem_seg_head': {}, 'clip_adapter': {}}
    unknown = []
    for key, value in state_dict.items():
        if any(pattern.search(key) for pattern in DROPPED):
            continue
        top, _, rest = key.partition('.')
        if top in groups and rest:
            groups[top][rest] = value
        else:
            unknown.append(key)
    if unknown:
        raise KeyError(f'keys outside backbone./sem_seg_head./clip_adapter.: {unknown[:8]}')
    for name in ('backbone', 'sem_seg_head'):
        if not groups[name]:
            raise KeyError(f'the checkpoint has no {name}.* weights: is it an OVSeg checkpoint?')
    return groups


def backbone_kind(backbone: StateDict) -> str:
    if 'stem.conv1.weight' in backbone:
        return 'r101c'
    if 'patch_embed.proj.weight' in backbone:
        return 'swin'
    raise KeyError('backbone.* is neither detectron2\'s DeepLab ResNet (stem.conv1) nor Swin '
                   f'(patch_embed.proj); first keys: {sorted(backbone)[:4]}')


def convert_ovseg(state_dict: StateDict) -> Tuple[StateDict, dict]:
    """The proposal network's ``OVSeg`` state dict (backbone, decode head with the no-object
    embedding) and a description (backbone kind, CLIP embedding size)."""
    groups = split_prefixes(state_dict)
    kind = backbone_kind(groups['backbone'])
    convert_backbone = convert_resnet_deeplab if kind == 'r101c' else convert_swin
    out = {f'backbone.{k}': v for k, v in convert_backbone(groups['backbone']).items()}
    out.update({f'decode_head.{k}': v
                for k, v in convert_sem_seg_head(groups['sem_seg_head']).items()})
    no_object = groups['clip_adapter'].get('non_object_embedding')
    if no_object is None:
        raise KeyError('clip_adapter.non_object_embedding is missing (the learnt no-object '
                       'class of the proposal classifier)')
    out['decode_head.cls_embed.no_object_embedding'] = no_object.reshape(1, -1)
    has_clip = any(k.startswith('clip_model.') for k in groups['clip_adapter'])
    meta = dict(backbone=kind, embed_dims=int(no_object.numel()), has_clip=has_clip)
    return out, meta


def convert_backbone_only(state_dict: StateDict) -> Tuple[StateDict, dict]:
    """A pretrained backbone for training: detectron2's DeepLab ResNet (``R-103.pkl``) or the
    official Swin weights -> mmseg key names (no ``backbone.`` prefix, for ``init_cfg``)."""
    backbone = {k[len('backbone.'):] if k.startswith('backbone.') else k: v
                for k, v in state_dict.items()}
    # classification-only parts of the official Swin weights: the head and the final norm
    backbone = {k: v for k, v in backbone.items() if not re.match(r'(head|norm)\.', k)
                and not any(p.search(k) for p in DROPPED)}
    kind = backbone_kind(backbone)
    convert = convert_resnet_deeplab if kind == 'r101c' else convert_swin
    return convert(backbone), dict(backbone=kind)


def save_converted(path: str, state_dict: StateDict, meta: dict) -> None:
    """Writes ``{'state_dict', 'meta': {'ovseg': meta}}`` atomically (weights-only loadable)."""
    atomic_save(path, lambda f: torch.save(dict(state_dict=state_dict, meta=dict(ovseg=meta)), f))


def main(argv=None):
    parser = argparse.ArgumentParser(description='Convert a released OVSeg checkpoint')
    parser.add_argument('src', help='OVSeg checkpoint (detectron2 layout)')
    parser.add_argument('dst', help='output .pth of the proposal network')
    parser.add_argument('--clip-dst', help='output CLIP file (default: <dst stem>_clip.pth)')
    parser.add_argument('--no-clip', action='store_true', help='do not write the CLIP file')
    parser.add_argument('--backbone-only', action='store_true',
                        help='SRC is a pretrained backbone for training (detectron2 R-103.pkl '
                        'or official Swin weights): write it with mmseg names')
    args = parser.parse_args(argv)
    if args.backbone_only:
        state_dict, meta = convert_backbone_only(read_checkpoint(args.src))
        save_converted(args.dst, state_dict, meta)
        print(f'{args.dst}: {len(state_dict)} backbone tensors ({meta["backbone"]})')
        return meta
    state_dict, meta = convert_ovseg(read_checkpoint(args.src))
    if not args.no_clip and not meta['has_clip']:
        raise KeyError(f'{args.src} has no clip_adapter.clip_model.* weights; use --no-clip')
    meta['source'] = osp.basename(args.src)
    save_converted(args.dst, state_dict, meta)
    print(f'{args.dst}: {len(state_dict)} tensors ({meta["backbone"]}, E={meta["embed_dims"]})')
    if not args.no_clip:
        from ovseg_clip import convert as convert_clip  # tools/model_converters/ovseg_clip.py
        clip_dst = args.clip_dst or osp.splitext(args.dst)[0] + '_clip.pth'
        convert_clip(args.src, clip_dst)
        meta['clip_dst'] = clip_dst
        print(f'{clip_dst}: the mask-adapted CLIP (model.clip_classifier.clip.pretrained)')
    return meta


if __name__ == '__main__':
    main()
