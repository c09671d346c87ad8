"""Overlays with a legend for segmentation and detection results, and atomic file writers."""
import json
from typing import Dict, Sequence

import cv2
import numpy as np

from clipdense.utils.atomic_io import atomic_write


def write_png(path: str, array: np.ndarray) -> None:
    """PNG of an ``(H, W)`` label map (uint8/uint16) or an ``(H, W, 3)`` RGB image."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode('.png', array)
    if not ok:
        raise RuntimeError(f'could not encode {path}')
    atomic_write(path, encoded.tobytes())


def write_json(path: str, data) -> None:
    atomic_write(path, json.dumps(data, indent=1))


def label_map_dtype(num_classes: int):
    return np.uint8 if num_classes <= 255 else np.uint16


def _legend(height: int, entries: Sequence[tuple]) -> np.ndarray:
    """A white ``(height, w, 3)`` panel listing (name, colour) pairs."""
    row, width = 18, 12 + max([len(name) for name, _ in entries] + [6]) * 8 + 28
    panel = np.full((max(height, row * len(entries) + 8), width, 3), 255, np.uint8)
    for i, (name, colour) in enumerate(entries):
        y = 6 + i * row
        cv2.rectangle(panel, (6, y), (20, y + 12), tuple(int(c) for c in colour), -1)
        cv2.putText(panel, name, (26, y + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return panel[:max(height, panel.shape[0])]


def _attach(image: np.ndarray, legend: np.ndarray) -> np.ndarray:
    height = max(image.shape[0], legend.shape[0])
    canvas = np.full((height, image.shape[1] + legend.shape[1], 3), 255, np.uint8)
    canvas[:image.shape[0], :image.shape[1]] = image
    canvas[:legend.shape[0], image.shape[1]:] = legend
    return canvas


def draw_segmentation(image: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                      colours: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """RGB ``(H, W, 3)`` image + ``(H, W)`` class indices -> blended overlay with a legend of
    the classes present (largest first)."""
    painted = colours[labels]
    overlay = (image * (1 - opacity) + painted * opacity).astype(np.uint8)
    present, counts = np.unique(labels, return_counts=True)
    order = present[np.argsort(-counts)]
    return _attach(overlay, _legend(image.shape[0], [(class_names[c], colours[c]) for c in order]))


def draw_detections(image: np.ndarray, detections: Dict[str, np.ndarray],
                    class_names: Sequence[str], colours: np.ndarray) -> np.ndarray:
    """Boxes ``(N, 4)`` x1y1x2y2 with labels and scores drawn on the RGB image + a legend;
    instance masks ``(N, H, W)`` bool (``detections['masks']``, if any) blended in first."""
    canvas = image.copy()
    for mask, label in zip(detections.get('masks', ()), detections['labels']):
        canvas[mask] = (0.5 * canvas[mask] + 0.5 * colours[label]).astype(np.uint8)
    for box, score, label in zip(detections['boxes'], detections['scores'],
                                 detections['labels']):
        colour = tuple(int(c) for c in colours[label])
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 2)
        cv2.putText(canvas, f'{class_names[label]} {score:.2f}', (x1, max(y1 - 3, 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
    present = sorted(set(int(l) for l in detections['labels']))
    return _attach(canvas, _legend(image.shape[0], [(class_names[c], colours[c])
                                                    for c in present]))


def encode_mask_rle(mask: np.ndarray) -> dict:
    """COCO run-length encoding of an ``(H, W)`` bool mask: ``{'size': [H, W], 'counts': str}``
    (decode with ``pycocotools.mask.decode``)."""
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(s) for s in rle['size']], counts=rle['counts'].decode('ascii'))
