"""Open-vocabulary COCO metric: box AP50 on the novel, base and all classes.

The protocol of OVR-CNN, Detic, F-VLM, BARON, ...: pycocotools evaluates the detections of the
whole vocabulary at once; each category's AP at IoU 0.5 is read from the accumulated precision
table (area "all", 100 detections per image) and averaged over the categories of each subset.

mmdet 3.3 ships that computation as ``OVCocoMetric`` (reading ``dataset_meta['base_classes']`` /
``['novel_classes']``); this subclass finds the split wherever it is given, fails with a clear
message when it is nowhere, and reports the three numbers under explicit names.
"""
from typing import Dict, Optional, Sequence, Union

from mmdet.evaluation.metrics import OVCocoMetric
from mmdet.registry import METRICS
from mmengine.logging import MMLogger

SUBSETS = ('novel', 'base', 'all')


@METRICS.register_module()
class OVCocoAP50Metric(OVCocoMetric):
    """COCO evaluation plus AP50 averaged over the novel, base and all classes.

    Results (prefix ``ov_coco/``): ``{metric}_AP50_novel``, ``_AP50_base``, ``_AP50_all``
    (fractions in [0, 1], like mmdet's ``bbox_mAP_50``; NaN for a subset without ground truth),
    next to mmdet's ``{metric}_mAP*``, ``base_ap50``, ``novel_ap50``, ...

    Args:
        metric: ``'bbox'`` (OV-COCO's box AP50) or ``'segm'`` (one of them, alone or in a
            one-item list).
        novel_classes, base_classes: the split; by default ``dataset_meta['novel_classes']`` /
            ``['base_classes']`` (set by :class:`~clipdense.datasets.OVCocoDataset`), else the
            ``"split"`` field of the annotation file's categories (written by
            ``tools/dataset_converters/ov_coco.py``). Classes in neither count for "all" only.
        Other arguments are :class:`mmdet.evaluation.CocoMetric`'s.
    """
    default_prefix: Optional[str] = 'ov_coco'

    def __init__(self, *args, metric: Union[str, Sequence[str]] = 'bbox',
                 novel_classes: Optional[Sequence[str]] = None,
                 base_classes: Optional[Sequence[str]] = None, **kwargs):
        if not isinstance(metric, str) and len(metric) == 1:
            metric = metric[0]
        if metric not in ('bbox', 'segm'):
            raise KeyError(f'{type(self).__name__} evaluates bbox or segm (one of them), not '
                           f'{metric!r}')
        super().__init__(*args, metric=metric, **kwargs)
        self.novel_classes = tuple(novel_classes) if novel_classes is not None else None
        self.base_classes = tuple(base_classes) if base_classes is not None else None

    def class_split(self) -> tuple:
        """``(base classes, novel classes)`` from the arguments, dataset_meta or the file."""
        meta = self.dataset_meta or {}
        base = self.base_classes or meta.get('base_classes')
        novel = self.novel_classes or meta.get('novel_classes')
        cats = list(self._coco_api.cats.values()) if self._coco_api is not None else []
        if (base is None or novel is None) and cats and all('split' in c for c in cats):
            base = base or [c['name'] for c in cats if c['split'] == 'base']
            novel = novel or [c['name'] for c in cats if c['split'] == 'novel']
        if base is None or novel is None:
            raise ValueError(f'{type(self).__name__} needs the base/novel split: give '
                             'novel_classes and base_classes, use OVCocoDataset (dataset_meta), '
                             'or an annotation file whose categories carry "split" '
                             '(tools/dataset_converters/ov_coco.py writes it)')
        return tuple(base), tuple(novel)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        base, novel = self.class_split()
        self.dataset_meta = dict(self.dataset_meta or {}, base_classes=base,
                                 novel_classes=novel)
        metric = self.metrics[0]
        eval_results = super().compute_metrics(results)
        if self.format_only:
            return eval_results
        nan = float('nan')
        values = dict(novel=eval_results.get('novel_ap50', -1),
                      base=eval_results.get('base_ap50', -1),
                      all=eval_results.get(f'{metric}_mAP_50', -1))
        for subset in SUBSETS:
            value = float(values[subset])
            eval_results[f'{metric}_AP50_{subset}'] = value if value >= 0 else nan
        MMLogger.get_current_instance().info(
            f'{metric} AP50 novel / base / all: ' +
            ' / '.join(f'{eval_results[f"{metric}_AP50_{s}"] * 100:.1f}' for s in SUBSETS))
        return eval_results
