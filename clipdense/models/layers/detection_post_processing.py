"""Post-processing steps for any mmdet detector, configured in ``test_cfg.post_processing``.

A step is any callable ``InstanceData -> InstanceData`` registered in mmdet's ``TASK_UTILS``
(e.g. :class:`~clipdense.models.layers.partial_object_suppression.PartialObjectSuppression`).
:class:`DetectionPostProcessingMixin` runs the steps on every ``pred_instances`` after the
detector's own ``predict`` (so after its NMS and box rescaling). To give an existing detector the
mixin without touching its class or its checkpoints, build it through
``type='PostProcessedDetector'``::

    model = dict(type='PostProcessedDetector', detector_type='FasterRCNN',
                 ...,  # the detector's own arguments, unchanged (inherited from a base config)
                 test_cfg=dict(..., post_processing=[
                     dict(type='PartialObjectSuppression', theta=0.8)]))

The builder returns an instance of a subclass of the detector's class (``isinstance`` holds and
the state-dict keys are the detector's own), so checkpoints of the plain detector load unchanged.
Why not a wrapper module or a hook: a wrapper would prefix every parameter name, and a runner hook
runs after the evaluator has seen the predictions and is skipped by ``tools/infer.py``.
"""
from typing import Callable, Dict, List, Sequence

from mmdet.registry import MODELS, TASK_UTILS
from mmengine.structures import InstanceData

_MIXED_CLASSES: Dict[type, type] = {}


def build_post_processing_steps(cfgs) -> List[Callable[[InstanceData], InstanceData]]:
    """Builds the steps of ``test_cfg.post_processing`` (None or a list of configs) in order."""
    if cfgs is None:
        return []
    if isinstance(cfgs, dict) or not isinstance(cfgs, Sequence):
        raise TypeError('test_cfg.post_processing must be a list of step configs, e.g. '
                        "[dict(type='PartialObjectSuppression', theta=0.8)], got "
                        f'{type(cfgs).__name__}')
    return [TASK_UTILS.build(cfg) for cfg in cfgs]


def apply_post_processing(data_samples: list, steps: Sequence[Callable]) -> list:
    """Runs ``steps`` on each sample's ``pred_instances`` in place; returns ``data_samples``."""
    for sample in data_samples:
        instances = sample.pred_instances
        for step in steps:
            instances = step(instances)
        sample.pred_instances = instances
    return data_samples


class DetectionPostProcessingMixin:
    """Mix in before an mmdet detector class: ``predict`` then runs the steps listed in
    ``self.test_cfg['post_processing']`` (read at every call, so ``cfg-options`` and later
    edits of ``test_cfg`` apply)."""

    def post_processing_steps(self) -> List[Callable[[InstanceData], InstanceData]]:
        test_cfg = getattr(self, 'test_cfg', None) or {}
        return build_post_processing_steps(test_cfg.get('post_processing'))

    def predict(self, batch_inputs, batch_data_samples, rescale: bool = True):
        results = super().predict(batch_inputs, batch_data_samples, rescale=rescale)
        return apply_post_processing(results, self.post_processing_steps())


def with_post_processing(detector_class: type) -> type:
    """The subclass ``<Name>WithPostProcessing(DetectionPostProcessingMixin, detector_class)``
    (one per class, cached)."""
    if issubclass(detector_class, DetectionPostProcessingMixin):
        return detector_class
    if detector_class not in _MIXED_CLASSES:
        _MIXED_CLASSES[detector_class] = type(
            f'{detector_class.__name__}WithPostProcessing',
            (DetectionPostProcessingMixin, detector_class),
            {'__module__': detector_class.__module__,
             '__doc__': f'{detector_class.__name__} followed by test_cfg.post_processing.'})
    return _MIXED_CLASSES[detector_class]


@MODELS.register_module(name='PostProcessedDetector')
def build_post_processed_detector(detector_type=None, **kwargs):
    """Builds ``detector_type`` (a registered mmdet detector name or class) with ``kwargs``, as
    :func:`with_post_processing` of its class."""
    if detector_type is None:
        raise KeyError("PostProcessedDetector needs detector_type, the registered name of the "
                       "detector to build (e.g. detector_type='FasterRCNN')")
    detector_class = detector_type if isinstance(detector_type, type) else MODELS.get(
        detector_type)
    if detector_class is None:
        raise KeyError(f'PostProcessedDetector: detector_type {detector_type!r} is not '
                       "registered in mmdet's MODELS (is the scope 'mmdet' and the package "
                       'imported?)')
    if not hasattr(detector_class, 'predict'):
        raise TypeError(f'PostProcessedDetector: {detector_class.__name__} has no predict(); '
                        'expected an mmdet detector')
    return with_post_processing(detector_class)(**kwargs)
