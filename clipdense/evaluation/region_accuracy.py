"""Region classification accuracy: the predicted class of each (region, text) pair against the
pair's text, over the dataset's vocabulary."""
from typing import Dict, List, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class RegionAccuracy(BaseMetric):
    """Top-1 accuracy (``aAcc``) and the mean of per-class accuracies (``mAcc``), in percent.

    Reads ``gt_label`` and ``pred_label`` of each data sample (mmengine passes them as dicts);
    classes without pairs are left out of ``mAcc``.
    """
    default_prefix = 'region'

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            pred, gt = sample.get('pred_label'), sample.get('gt_label')
            if pred is None or gt is None:
                raise KeyError('RegionAccuracy needs pred_label and gt_label in each sample')
            self.results.append((int(pred), int(gt)))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        preds, gts = np.array(results).T
        per_class = [np.mean(preds[gts == c] == c) for c in np.unique(gts)]
        return dict(aAcc=float(np.mean(preds == gts) * 100),
                    mAcc=float(np.mean(per_class) * 100))
