"""Data transforms OVSeg needs beyond mmseg's: 16-bit label maps and external mask proposals.

* ``LoadWideLabelAnnotations``: mmseg's ``LoadAnnotations`` casts label maps to uint8; ADE-847
  and PC-459 store up to 847 classes and 65535 = unlabelled in 16-bit TIFFs.
* ``LoadMaskProposals``: reads class-agnostic masks of an image from
  ``<proposal_dir>/<image stem>.json`` (e.g. SAM's automatic masks, ``output_mode='coco_rle'``)
  into ``results['mask_proposals']`` (bool ``(Q, H, W)`` at the original image size); the OVSeg
  segmentor classifies them with CLIP instead of its own proposals.
"""
import io
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS
from PIL import Image

from clipdense.utils import read_json

MASK_PROPOSALS_KEY = 'mask_proposals'


@TRANSFORMS.register_module()
class LoadWideLabelAnnotations(LoadAnnotations):
    """``LoadAnnotations`` keeping 16-bit labels (``uint16``: e.g. 0..846 and 65535 for the
    16-bit benchmarks); 8-bit maps come out as ``LoadAnnotations`` makes them (same
    ``reduce_zero_label`` and ``label_map`` rules), so one pipeline serves every benchmark."""

    def _load_seg_map(self, results: dict) -> None:
        path = results['seg_map_path']
        with Image.open(io.BytesIO(fileio.get(path, backend_args=self.backend_args))) as image:
            labels = np.array(image)
        if labels.ndim != 2:
            raise ValueError(f'label map {path} has shape {labels.shape}; expected one channel')
        if labels.dtype.kind not in 'ui' or (labels.size and (
                labels.min() < 0 or labels.max() > 65535)):
            raise ValueError(f'label map {path} ({labels.dtype}) does not hold 8/16-bit class '
                             'indices')
        if self.reduce_zero_label is None:
            self.reduce_zero_label = results.get('reduce_zero_label', False)
        if self.reduce_zero_label != results.get('reduce_zero_label', self.reduce_zero_label):
            raise ValueError(f'reduce_zero_label={self.reduce_zero_label} of the transform '
                             f'differs from the dataset\'s {results["reduce_zero_label"]}')
        labels = labels.astype(np.int64)
        if self.reduce_zero_label:  # mmseg's rule: 0 and 255 -> 255 (ignore), k -> k - 1
            labels[labels == 0] = 255
            labels -= 1
            labels[labels == 254] = 255
        if results.get('label_map'):
            original = labels.copy()
            for old_id, new_id in results['label_map'].items():
                labels[original == old_id] = new_id
        results['gt_seg_map'] = labels.astype(np.uint16)
        results['seg_fields'].append('gt_seg_map')


def decode_rle(segmentation: dict, source: str = 'mask') -> np.ndarray:
    """COCO RLE (``{'size': [h, w], 'counts': str | list}``) -> bool ``(h, w)``."""
    from pycocotools import mask as mask_utils
    if not isinstance(segmentation, dict) or 'size' not in segmentation \
            or 'counts' not in segmentation:
        raise ValueError(f'{source}: segmentation must be a COCO RLE dict with "size" and '
                         f'"counts" (polygons are not supported), got {type(segmentation)}')
    height, width = (int(v) for v in segmentation['size'])
    counts = segmentation['counts']
    if isinstance(counts, list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(dict(size=[height, width], counts=counts), height, width)
    else:
        rle = dict(size=[height, width],
                   counts=counts.encode() if isinstance(counts, str) else counts)
    return mask_utils.decode(rle).astype(bool)


def read_mask_proposals(path: str, image_shape: Optional[tuple] = None) -> np.ndarray:
    """Masks of one image from a JSON file -> bool ``(Q, H, W)``.

    The file holds a list of records with a ``segmentation`` RLE (SAM's automatic mask generator
    output), or ``{"annotations": [...]}`` (COCO results style). ``image_shape (H, W)``, when
    given, must match every mask.
    """
    content = read_json(path, 'mask proposals')
    records = content.get('annotations') if isinstance(content, dict) else content
    if not isinstance(records, list):
        raise ValueError(f'{path}: expected a list of mask records or {{"annotations": [...]}}')
    masks: List[np.ndarray] = []
    for index, record in enumerate(records):
        segmentation = record.get('segmentation') if isinstance(record, dict) else None
        mask = decode_rle(segmentation, f'{path} record {index}')
        if image_shape is not None and mask.shape != tuple(image_shape):
            raise ValueError(f'{path} record {index}: mask size {mask.shape} differs from the '
                             f'image size {tuple(image_shape)}')
        masks.append(mask)
    if not masks:
        shape = tuple(image_shape) if image_shape is not None else (0, 0)
        return np.zeros((0, ) + shape, dtype=bool)
    return np.stack(masks)


@TRANSFORMS.register_module()
class LoadMaskProposals(BaseTransform):
    """Adds ``results['mask_proposals']`` (bool ``(Q, H, W)``, original image size) from
    ``<proposal_dir>/<image stem><suffix>``. Place it after ``LoadImageFromFile`` and add
    ``'mask_proposals'`` to ``PackSegInputs.meta_keys`` (:func:`add_mask_proposals` does both).
    """

    def __init__(self, proposal_dir: str, suffix: str = '.json') -> None:
        if not osp.isdir(proposal_dir):
            raise FileNotFoundError(f'proposal folder not found: {proposal_dir}')
        self.proposal_dir = proposal_dir
        self.suffix = suffix

    def transform(self, results: dict) -> dict:
        stem = osp.splitext(osp.basename(results['img_path']))[0]
        path = osp.join(self.proposal_dir, stem + self.suffix)
        shape = results.get('ori_shape') or results['img'].shape[:2]
        results[MASK_PROPOSALS_KEY] = read_mask_proposals(path, tuple(shape))
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(proposal_dir={self.proposal_dir!r})'


def add_mask_proposals(pipeline: List[dict], proposal_dir: str) -> List[dict]:
    """A copy of a test pipeline that loads external mask proposals: ``LoadMaskProposals``
    after ``LoadImageFromFile`` and ``mask_proposals`` among ``PackSegInputs``' meta keys."""
    from mmseg.datasets.transforms import PackSegInputs
    proposal_dir = os.path.abspath(proposal_dir)
    types = [step['type'] for step in pipeline]
    if 'LoadImageFromFile' not in types or 'PackSegInputs' not in types:
        raise ValueError(f'the test pipeline {types} needs LoadImageFromFile and PackSegInputs '
                         'to take mask proposals')
    result = []
    for step in pipeline:
        step = dict(step)
        if step['type'] == 'LoadMaskProposals':
            continue
        if step['type'] == 'PackSegInputs':
            keys = tuple(step.get('meta_keys', PackSegInputs().meta_keys))
            step['meta_keys'] = keys + ((MASK_PROPOSALS_KEY, )
                                        if MASK_PROPOSALS_KEY not in keys else ())
        result.append(step)
        if step['type'] == 'LoadImageFromFile':
            result.append(dict(type='LoadMaskProposals', proposal_dir=proposal_dir))
    return result


def config_with_mask_proposals(config, proposal_dir: str, images: Sequence = ()):
    """The config (file or :class:`Config`) with a test pipeline that loads
    ``<proposal_dir>/<image stem>.json``; checks first that the model takes external proposals
    and that every image of ``images`` has its file (so nothing is written on bad input)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if cfg.model.get('type') != 'OVSeg':
        raise ValueError(f'external mask proposals need an OVSeg config; '
                         f'{getattr(cfg, "filename", config)} builds {cfg.model.get("type")}')
    if not osp.isdir(proposal_dir):
        raise FileNotFoundError(f'proposal folder not found: {proposal_dir}')
    missing = [str(path) for path in images if not osp.isfile(
        osp.join(proposal_dir, osp.splitext(osp.basename(str(path)))[0] + '.json'))]
    if missing:
        raise FileNotFoundError(f'no <image stem>.json mask proposals in {proposal_dir} for: '
                                + ', '.join(missing[:8]))
    dataset = cfg.test_dataloader.dataset
    dataset.pipeline = add_mask_proposals(dataset.pipeline, proposal_dir)
    return cfg
