"""OVCocoAP50Metric: AP50 on novel / base / all vs pycocotools by hand on a known example."""
import json

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from clipdense.evaluation import OVCocoAP50Metric

CATEGORIES = [dict(id=1, name='person'), dict(id=17, name='cat'), dict(id=18, name='dog')]
CLASSES = ('person', 'cat', 'dog')


def xywh_to_xyxy(box):
    return [box[0], box[1], box[0] + box[2], box[1] + box[3]]


@pytest.fixture
def ann_file(tmp_path):
    """One 100x100 image: a person (base) and a cat (novel); no dog in the ground truth."""
    images = [dict(id=1, width=100, height=100, file_name='a.jpg')]
    annotations = [
        dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 30, 30], area=900, iscrowd=0),
        dict(id=2, image_id=1, category_id=17, bbox=[50, 50, 30, 30], area=900, iscrowd=0),
    ]
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(dict(images=images, annotations=annotations,
                                    categories=CATEGORIES)))
    return str(path)


# (box xywh, score, label index into CLASSES): the person is found at once (AP 1); the cat's
# first detection misses (IoU 0), the second hits, so its precision at full recall is 1/2 and
# every interpolated point is 0.5 (AP 0.5); the dog has no ground truth, so it has no AP.
PREDICTIONS = [([10, 10, 30, 30], 0.9, 0), ([0, 60, 20, 20], 0.8, 1), ([50, 50, 30, 30], 0.7, 1),
               ([5, 5, 10, 10], 0.6, 2)]


def data_sample():
    boxes = torch.tensor([xywh_to_xyxy(b) for b, _, _ in PREDICTIONS], dtype=torch.float32)
    return dict(img_id=1, ori_shape=(100, 100),
                pred_instances=dict(bboxes=boxes,
                                    scores=torch.tensor([s for _, s, _ in PREDICTIONS]),
                                    labels=torch.tensor([c for _, _, c in PREDICTIONS])))


def by_hand_ap50(ann_file, category_id):
    """pycocotools on its own: one category, IoU 0.5 only."""
    gt = COCO(ann_file)
    results = [dict(image_id=1, category_id=CATEGORIES[label]['id'], bbox=box, score=score)
               for box, score, label in PREDICTIONS]
    evaluator = COCOeval(gt, gt.loadRes(results), 'bbox')
    evaluator.params.catIds = [category_id]
    evaluator.params.iouThrs = np.array([0.5])
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator.stats[0]


def run_metric(metric):
    metric.dataset_meta = dict(classes=CLASSES, base_classes=('person', ),
                               novel_classes=('cat', 'dog'))
    metric.process({}, [data_sample()])
    return metric.evaluate(size=1)


def test_known_answer_and_pycocotools(ann_file):
    results = run_metric(OVCocoAP50Metric(ann_file=ann_file))
    assert results['ov_coco/bbox_AP50_base'] == pytest.approx(1.0)
    assert results['ov_coco/bbox_AP50_novel'] == pytest.approx(0.5)
    assert results['ov_coco/bbox_AP50_all'] == pytest.approx(0.75)
    assert by_hand_ap50(ann_file, 1) == pytest.approx(1.0)
    assert by_hand_ap50(ann_file, 17) == pytest.approx(0.5)
    assert by_hand_ap50(ann_file, 18) == -1  # no ground truth: pycocotools' "no value"


def test_split_from_annotation_file(ann_file, tmp_path):
    data = json.loads(open(ann_file).read())
    for cat in data['categories']:
        cat['split'] = 'base' if cat['name'] == 'person' else 'novel'
    path = tmp_path / 'split.json'
    path.write_text(json.dumps(data))
    metric = OVCocoAP50Metric(ann_file=str(path))
    metric.dataset_meta = dict(classes=CLASSES)  # no split in dataset_meta
    metric.process({}, [data_sample()])
    results = metric.evaluate(size=1)
    assert results['ov_coco/bbox_AP50_novel'] == pytest.approx(0.5)
    assert results['ov_coco/bbox_AP50_base'] == pytest.approx(1.0)


def test_missing_split_is_an_error(ann_file):
    metric = OVCocoAP50Metric(ann_file=ann_file)
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [data_sample()])
    with pytest.raises(ValueError, match='base/novel split'):
        metric.evaluate(size=1)


def test_registered_and_one_metric_at_a_time():
    from mmdet.registry import METRICS
    assert METRICS.get('OVCocoAP50Metric') is OVCocoAP50Metric
    with pytest.raises(KeyError, match='bbox or segm'):
        OVCocoAP50Metric(metric=['bbox', 'segm'])
