"""Partial Object Suppression (POS, BIRDet): drop detections of object parts after NMS.

IoU-NMS keeps a box that lies inside a larger detection of the same class (their IoU is small
when the areas differ), yet such a box is usually a part of that object. POS measures overlap by
the Overlap Area Ratio ``OAR(i, j) = area(b_i & b_j) / min(area(b_i), area(b_j))`` (1 when one box
lies inside the other) and suppresses, among detections of the same class, the SMALLER box of a
pair with ``OAR > theta`` when it also scores lower.

All pairs are compared at once (an (N, N) matrix per image, no sequential greedy loop): a box is
suppressed when any same-class box that is at least as large and scores higher covers it. This
equals the greedy order-by-score variant except for chains in which the suppressor is itself
suppressed (A contains B contains C, with A not covering C) — rare for real parts, and the
parallel form is what keeps it a few tensor ops.
"""
from typing import Optional, Tuple

import torch
from mmdet.registry import TASK_UTILS
from mmengine.structures import InstanceData
from torch import Tensor

POS_MODES = ('hard', 'decay')


def box_area(boxes: Tensor) -> Tensor:
    """``(N, 4)`` x1y1x2y2 boxes -> ``(N,)`` areas (degenerate boxes have area 0)."""
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def overlap_area_ratio(boxes: Tensor) -> Tensor:
    """``(N, 4)`` x1y1x2y2 boxes -> ``(N, N)`` OAR: intersection over the smaller box's area
    (0 where the smaller box has no area)."""
    area = box_area(boxes)
    top_left = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    smaller = torch.minimum(area[:, None], area[None, :])
    return torch.where(smaller > 0, inter / smaller.clamp(min=torch.finfo(inter.dtype).tiny),
                       torch.zeros_like(inter))


def partial_object_mask(boxes: Tensor, scores: Tensor, labels: Tensor,
                        theta: float = 0.8) -> Tensor:
    """``(N,)`` bool: True for detections that POS suppresses.

    Detection ``i`` is suppressed when some detection ``j`` of the same label has
    ``OAR(i, j) > theta``, ``area(i) <= area(j)`` and ``score(i) < score(j)``.

    Args:
        boxes: ``(N, 4)`` x1y1x2y2; scores: ``(N,)``; labels: ``(N,)`` int class indices.
        theta: OAR threshold in [0, 1]; 1 never suppresses (OAR <= 1).
    """
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f'POS expects boxes of shape (N, 4), got {tuple(boxes.shape)}')
    if scores.shape != boxes.shape[:1] or labels.shape != boxes.shape[:1]:
        raise ValueError(f'POS: scores {tuple(scores.shape)} and labels {tuple(labels.shape)} '
                         f'must both have shape ({boxes.shape[0]},)')
    if not 0.0 <= theta <= 1.0:
        raise ValueError(f'POS theta must lie in [0, 1], got {theta}')
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.bool, device=boxes.device)
    boxes = boxes.float()
    area = box_area(boxes)
    covered = overlap_area_ratio(boxes) > theta                  # (N, N), symmetric
    same_class = labels[:, None] == labels[None, :]
    not_larger = area[:, None] <= area[None, :]                   # i is the smaller one
    lower_score = scores[:, None] < scores[None, :]               # and scores lower than j
    return (covered & same_class & not_larger & lower_score).any(dim=1)


def partial_object_suppression(boxes: Tensor, scores: Tensor, labels: Tensor,
                               theta: float = 0.8, mode: str = 'hard',
                               decay_factor: float = 0.5) -> Tuple[Tensor, Tensor]:
    """Applies POS to one image's detections.

    Returns ``(keep, new_scores)``: ``keep`` ``(N,)`` bool (``mode='hard'``: False for suppressed
    detections; ``'decay'``: all True) and ``new_scores`` ``(N,)`` (``'decay'``: suppressed
    detections' scores multiplied by ``decay_factor``; ``'hard'``: the input scores).
    """
    if mode not in POS_MODES:
        raise ValueError(f'POS mode must be one of {POS_MODES}, got {mode!r}')
    suppressed = partial_object_mask(boxes, scores, labels, theta)
    if mode == 'hard':
        return ~suppressed, scores
    if not 0.0 <= decay_factor <= 1.0:
        raise ValueError(f'POS decay_factor must lie in [0, 1], got {decay_factor}')
    decayed = torch.where(suppressed, scores * decay_factor, scores)
    return torch.ones_like(suppressed), decayed


@TASK_UTILS.register_module()
class PartialObjectSuppression:
    """POS as a detection post-processing step: ``InstanceData`` (``bboxes`` (N, 4), ``scores``
    (N,), ``labels`` (N,), any other per-instance fields) -> filtered/re-scored ``InstanceData``
    (kept instances in their input order).

    Args:
        theta: OAR threshold (RECONSTRUCTED default 0.8).
        mode: ``'hard'`` removes suppressed detections, ``'decay'`` multiplies their score by
            ``decay_factor``; ``score_thr`` (optional) then drops detections scoring below it.
    """

    def __init__(self, theta: float = 0.8, mode: str = 'hard', decay_factor: float = 0.5,
                 score_thr: Optional[float] = None):
        if mode not in POS_MODES:
            raise ValueError(f'PartialObjectSuppression: mode must be one of {POS_MODES}, '
                             f'got {mode!r}')
        if not 0.0 <= theta <= 1.0:
            raise ValueError(f'PartialObjectSuppression: theta must lie in [0, 1], got {theta}')
        self.theta, self.mode = theta, mode
        self.decay_factor, self.score_thr = decay_factor, score_thr

    def __call__(self, instances: InstanceData) -> InstanceData:
        missing = [key for key in ('bboxes', 'scores', 'labels') if key not in instances]
        if missing:
            raise KeyError(f'PartialObjectSuppression needs pred_instances with {missing}')
        keep, scores = partial_object_suppression(
            instances.bboxes, instances.scores, instances.labels, self.theta, self.mode,
            self.decay_factor)
        instances = instances.clone()
        instances.scores = scores
        if self.score_thr is not None:
            keep = keep & (scores >= self.score_thr)
        return instances[keep]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(theta={self.theta}, mode={self.mode!r}, '
                f'decay_factor={self.decay_factor}, score_thr={self.score_thr})')
