"""Converts the original DenseCLIP detection checkpoints (mmdet 2.x / mmcv 1.x) for mmdet 3.x.

    python tools/model_converters/denseclip_mmdet2_to_mmdet3.py SRC DST [--config CONFIG]

The released files (``retinanet_denseclip_r50.pth``, ``mask_rcnn_denseclip_r50.pth``, ...) also
load directly (``tools/test.py CONFIG SRC``): their parameter names are those of mmdet 3.x's
RetinaNet / Mask R-CNN heads, FPN and clipdense's DenseCLIP modules. The converter writes a lean
file instead: the weights only (no optimizer state), ``meta.dataset_meta.classes`` from the 2.x
``meta.CLASSES`` (so ``tools/infer.py`` names the classes), loadable with
``torch.load(weights_only=True)``; it checks the layout (which detector, the class count implied
by the score-map channels) and, with ``--config``, loads the result strictly into that config's
model and reports any mismatch. The source is read with ``weights_only=True`` (no code runs).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from clipdense.utils import atomic_save  # noqa: E402

# The parameter names of the modules these detectors use (FPN, RetinaHead, RPNHead, StandardRoIHead
# with Shared2FCBBoxHead and FCNMaskHead) are the same in mmdet 2.x and 3.x, so keys are kept.
HEAD_KEYS = {
    'RetinaNet': ('bbox_head.retina_cls.weight', 'bbox_head.retina_reg.weight'),
    'MaskRCNN': ('rpn_head.rpn_cls.weight', 'roi_head.bbox_head.fc_cls.weight',
                 'roi_head.mask_head.conv_logits.weight'),
}
DENSECLIP_KEYS = ('contexts', 'gamma', 'text_encoder.text_projection',
                  'context_decoder.out_proj.1.weight')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='original (mmdet 2.x) checkpoint')
    parser.add_argument('dst', help='output file (.pth)')
    parser.add_argument('--config', help='mmdet 3.x config to load the result into, strictly')
    return parser.parse_args(argv)


def read_checkpoint(path: str) -> dict:
    """The file's contents, unpickled weights-only (no code executed)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # pickle raises many types for foreign content
        raise ValueError(f'{path}: not a checkpoint loadable with weights_only=True ({err})')


def convert(checkpoint: dict, source: str = 'checkpoint') -> dict:
    """``{'state_dict', 'meta'}`` for mmdet 3.x from an mmdet 2.x checkpoint dict; raises
    ``ValueError`` naming what is missing."""
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{source}: expected a dict, got {type(checkpoint).__name__}')
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise ValueError(f'{source}: no state_dict of tensors found')
    state = {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in state.items()}
    kinds = [kind for kind, keys in HEAD_KEYS.items() if all(k in state for k in keys)]
    if len(kinds) != 1:
        raise ValueError(f'{source}: neither a RetinaNet ({HEAD_KEYS["RetinaNet"]}) nor a Mask '
                         f'R-CNN ({HEAD_KEYS["MaskRCNN"]}) checkpoint')
    denseclip = [k for k in DENSECLIP_KEYS if k in state]
    if denseclip and len(denseclip) != len(DENSECLIP_KEYS):
        missing = sorted(set(DENSECLIP_KEYS) - set(denseclip))
        raise ValueError(f'{source}: DenseCLIP keys {missing} are missing')
    meta = checkpoint.get('meta') or {}
    classes = list(meta.get('CLASSES') or meta.get('dataset_meta', {}).get('classes') or [])
    laterals = sorted((int(k.split('.')[2]), k) for k in state
                      if k.startswith('neck.lateral_convs.') and k.endswith('.conv.weight'))
    lateral = state[laterals[-1][1]] if laterals else None  # the FPN's input from level 3
    stage4 = state.get('backbone.layer4.0.conv3.weight')  # CLIP ResNet: score map at level 3
    if denseclip and classes and lateral is not None and stage4 is not None and \
            lateral.shape[1] != stage4.shape[0] + len(classes):
        raise ValueError(f'{source}: neck level 3 takes {lateral.shape[1]} channels, not '
                         f'{stage4.shape[0]} backbone + {len(classes)} score-map channels for '
                         f'the {len(classes)} classes in meta.CLASSES')
    new_meta = dict(converted_from=os.path.basename(source), detector=kinds[0],
                    denseclip=bool(denseclip))
    if classes:
        new_meta['dataset_meta'] = dict(classes=tuple(classes))
    return dict(state_dict=state, meta=new_meta)


def check_against_config(converted: dict, config: str) -> None:
    """Loads the converted weights strictly into ``config``'s model (built without CLIP files)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import clipdense  # noqa: F401  (registers the models)
    from clipdense.apis.runner import drop_weight_files
    from clipdense.registry import DET_MODELS
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = DET_MODELS.build(drop_weight_files(cfg.model))
    result = model.load_state_dict(converted['state_dict'], strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(f'the weights do not fit {config}: missing {result.missing_keys[:10]}, '
                         f'unexpected {result.unexpected_keys[:10]}')


def main(argv=None):
    args = parse_args(argv)
    converted = convert(read_checkpoint(args.src), args.src)
    if args.config:
        check_against_config(converted, args.config)
    atomic_save(args.dst, lambda f: torch.save(converted, f))
    meta = converted['meta']
    print(f'{args.dst}: {meta["detector"]}{" (DenseCLIP)" if meta["denseclip"] else ""}, '
          f'{len(converted["state_dict"])} tensors, '
          f'{len(meta.get("dataset_meta", {}).get("classes", ()))} classes')
    return converted


if __name__ == '__main__':
    main()
