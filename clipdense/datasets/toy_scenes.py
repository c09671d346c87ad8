"""Deterministic synthetic "toy" scenes in ADE20K and COCO layouts.

Each scene is a textured outdoor picture: a ``sky`` region on top and a ``grass`` region below a
wavy random horizon (the two stuff classes), with 1-4 things painted on top in random order:
``ball`` (32-gon circle, reddish, radial shading), ``box`` (rotated square, bluish, stripes),
``tent`` (triangle, yellow, two shaded faces) and ``kite`` (rhombus, purple, dark cross spars).
Every instance draws its own colour from a class-specific HSV range that overlaps its neighbours'
(ball/tent at orange, box/kite at violet) and every pixel gets Gaussian noise, so a class is
recognisable from colour statistics plus shape but not reliably from a single pixel value.

Label maps (uint8, single channel) follow the ADE20K convention: 0 is "other/unlabelled" and class
``TOY_CLASSES[i]`` is stored as ``i + 1``; with ``reduce_zero_label`` 0 becomes 255 (ignored) and
``i + 1`` becomes ``i``. A 1-pixel ring just outside every thing (4-neighbourhood) is labelled 0 so
the ignore path is exercised; a later thing paints over earlier ones, rings included.

Every polygon is rasterised with ``pycocotools`` (``frPyObjects`` -> ``merge`` -> ``decode``), the
same routine mmdet uses to turn COCO polygons into masks, so painted pixels, label maps (up to the
unlabelled rings) and the masks mmdet decodes from the JSON agree exactly. COCO instances keep
their full (unoccluded) polygon, ``area`` is the polygon's shoelace area and ``bbox`` its extent;
only the semantic PNGs reflect occlusion. Placement rejects a new thing if it would hide more than
half of an earlier one.

Scene ``i`` of a split depends only on ``(seed, split, i)``, so growing ``num_train`` keeps the
first images unchanged. Files are written with OpenCV (JPEG quality 95, PNG); with the same numpy,
OpenCV (libjpeg/zlib) and pycocotools builds the output is byte-identical on regeneration. Other
versions or CPUs (SIMD float paths) may change individual bytes, never the layout.
"""
import colorsys
import json
import math
import os
import os.path as osp
from dataclasses import dataclass, field

import cv2
import numpy as np
from pycocotools import mask as mask_utils

TOY_CLASSES = ('sky', 'grass', 'ball', 'box', 'tent', 'kite')
TOY_PALETTE = [[135, 190, 235], [70, 150, 50], [220, 50, 40], [40, 80, 200], [230, 200, 50],
               [150, 60, 190]]
TOY_STUFF_CLASSES = TOY_CLASSES[:2]
TOY_THING_CLASSES = TOY_CLASSES[2:]
TOY_THING_PALETTE = TOY_PALETTE[2:]
# Deliberately non-contiguous COCO category ids, listed in TOY_THING_CLASSES order.
TOY_COCO_CATEGORY_IDS = {'ball': 1, 'box': 3, 'tent': 5, 'kite': 7}
UNLABELLED = 0

JPEG_QUALITY = 95
MAX_OBJECTS = 4
MAX_PLACEMENT_TRIES = 30
MIN_VISIBLE_FRACTION = 0.5
_SPLIT_CODES = {'train': 0, 'val': 1}

# Per-instance colour ranges in HSV: (hue degrees, saturation, value). Neighbouring classes overlap
# (ball/tent at orange, box/kite at violet, box/sky in hue) so a single pixel is ambiguous.
_CLASS_HSV = {
    'sky': ((195, 215), (0.25, 0.45), (0.85, 0.95)),
    'grass': ((85, 130), (0.45, 0.70), (0.45, 0.65)),
    'ball': ((-20, 35), (0.65, 0.90), (0.70, 0.95)),
    'box': ((200, 250), (0.55, 0.85), (0.55, 0.85)),
    'tent': ((25, 60), (0.60, 0.85), (0.80, 0.95)),
    'kite': ((240, 320), (0.45, 0.75), (0.55, 0.85)),
}


@dataclass
class ToyInstance:
    """One painted thing: class name, flat polygon ``[x0, y0, x1, y1, ...]`` in pixels, and its
    full (unoccluded) boolean mask of shape (H, W)."""
    name: str
    polygon: list
    mask: np.ndarray = field(repr=False)


@dataclass
class ToyScene:
    """An RGB image (H, W, 3) uint8, a label map (H, W) uint8 in ADE convention and its things in
    painting order."""
    image: np.ndarray = field(repr=False)
    label: np.ndarray = field(repr=False)
    instances: list


def class_label(name):
    """Value stored in label PNGs for class ``name`` (1..6; 0 is unlabelled)."""
    return TOY_CLASSES.index(name) + 1


def rasterize_polygon(polygon, height, width):
    """Boolean (H, W) mask of a flat polygon, rasterised exactly as mmdet/pycocotools does."""
    rles = mask_utils.frPyObjects([list(polygon)], height, width)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def polygon_area(polygon):
    """Shoelace area of a flat polygon."""
    xs, ys = np.asarray(polygon[0::2], np.float64), np.asarray(polygon[1::2], np.float64)
    return float(0.5 * abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))))


def polygon_bbox(polygon):
    """COCO ``[x, y, w, h]`` extent of a flat polygon (rounded to 1/100 px)."""
    xs, ys = polygon[0::2], polygon[1::2]
    x0, y0 = min(xs), min(ys)
    return [x0, y0, round(max(xs) - x0, 2), round(max(ys) - y0, 2)]


def _upsampled_noise(rng, height, width, cell):
    """Smooth standard-normal-ish field (H, W) float32: a random grid of one value per ``cell``
    pixels, bilinearly interpolated."""
    grid_h, grid_w = height // cell + 2, width // cell + 2
    grid = rng.standard_normal((grid_h, grid_w)).astype(np.float32)
    ys = np.arange(height, dtype=np.float32) / cell
    xs = np.arange(width, dtype=np.float32) / cell
    y0, x0 = ys.astype(np.int64), xs.astype(np.int64)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _instance_colour(rng, name):
    """Per-instance RGB colour (3,) float32 in 0..255, uniform in the class's HSV box."""
    (h_lo, h_hi), (s_lo, s_hi), (v_lo, v_hi) = _CLASS_HSV[name]
    hue = (rng.uniform(h_lo, h_hi) % 360) / 360
    rgb = colorsys.hsv_to_rgb(hue, rng.uniform(s_lo, s_hi), rng.uniform(v_lo, v_hi))
    return np.asarray(rgb, np.float32) * 255


def _paint_background(rng, height, width):
    """Sky above a wavy horizon, grass below. Returns the float RGB image (H, W, 3) and the
    label map (H, W) uint8."""
    xs = np.arange(width, dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)[:, None]
    horizon = (rng.uniform(0.35, 0.65) * height
               + rng.uniform(0.02, 0.08) * height
               * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * xs / width + rng.uniform(0, 2 * np.pi))
               + rng.uniform(0.0, 0.03) * height
               * np.sin(2 * np.pi * rng.uniform(2.0, 5.0) * xs / width + rng.uniform(0, 2 * np.pi)))
    is_sky = ys < horizon[None, :]

    # Sky: lighter towards the horizon, soft white clouds.
    sky = np.broadcast_to(_instance_colour(rng, 'sky'), (height, width, 3))
    towards_horizon = np.clip(ys / np.maximum(horizon[None, :], 1.0), 0, 1)[..., None]
    sky = sky * (0.85 + 0.2 * towards_horizon)
    cloudiness = np.clip(_upsampled_noise(rng, height, width, cell=20) - 0.4, 0, 1)[..., None]
    sky = sky + (np.float32(245) - sky) * 0.7 * cloudiness
    sky = sky + rng.normal(0, 5, (height, width, 3))

    # Grass: vertical blade streaks, darker and lighter patches, darker towards the bottom.
    grass = np.broadcast_to(_instance_colour(rng, 'grass'), (height, width, 3))
    blades = rng.standard_normal((height + 6, width)).astype(np.float32)
    blades = sum(blades[k:k + height] for k in range(7)) / math.sqrt(7)
    patches = _upsampled_noise(rng, height, width, cell=16)
    depth = ys / height
    shade = (1.0 + 0.12 * blades + 0.12 * patches) * (1.1 - 0.25 * depth)
    grass = grass * shade[..., None] + rng.normal(0, 7, (height, width, 3))

    image = np.where(is_sky[..., None], sky, grass).astype(np.float32)
    label = np.where(is_sky, class_label('sky'), class_label('grass')).astype(np.uint8)
    return image, label


def _shape_polygon(rng, name, radius):
    """Flat polygon of a thing centred at the origin, as an (N, 2) float array."""
    if name == 'ball':
        angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
        return radius * np.stack([np.cos(angles), np.sin(angles)], 1)
    if name == 'box':
        angles = rng.uniform(0, np.pi / 2) + np.arange(4) * np.pi / 2
        return radius * np.stack([np.cos(angles), np.sin(angles)], 1)
    if name == 'tent':
        apex_x = rng.uniform(-0.3, 0.3) * radius
        return np.array([[-radius, 0.6 * radius], [apex_x, -0.9 * radius], [radius, 0.6 * radius]])
    if name == 'kite':
        corners = np.array([[0, -1.3], [0.7, -0.35], [0, 1.0], [-0.7, -0.35]]) * radius
        tilt = rng.uniform(-0.35, 0.35)
        rotation = np.array([[math.cos(tilt), -math.sin(tilt)], [math.sin(tilt), math.cos(tilt)]])
        return corners @ rotation.T
    raise KeyError(name)


def _place_polygon(rng, points, height, width):
    """Translates (N, 2) points to a random position fully inside the image; returns the flat
    polygon rounded to 1/100 px."""
    low, high = points.min(0), points.max(0)
    offset = np.array([rng.uniform(-low[0], width - high[0]),
                       rng.uniform(-low[1], height - high[1])])
    placed = np.clip(points + offset, 0, [width, height])
    return [round(float(v), 2) for v in placed.reshape(-1)]


def _texture_thing(rng, name, polygon, height, width):
    """Float RGB appearance (H, W, 3) of a thing over the whole canvas; used inside its mask."""
    colour = _instance_colour(rng, name)
    points = np.asarray(polygon, np.float32).reshape(-1, 2)
    centre_x, centre_y = points.mean(0)
    radius = max(float(np.ptp(points[:, 0])), float(np.ptp(points[:, 1]))) / 2
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if name == 'ball':  # highlight at the top left
        dist = np.hypot(xs - (centre_x - 0.35 * radius), ys - (centre_y - 0.35 * radius))
        shade = 1.25 - 0.6 * np.clip(dist / (1.6 * radius), 0, 1)
    elif name == 'box':  # stripes along one edge direction
        edge = points[1] - points[0]
        along = ((xs - centre_x) * edge[0] + (ys - centre_y) * edge[1]) / np.linalg.norm(edge)
        shade = 0.95 + 0.12 * np.sin(2 * np.pi * along / max(radius / 2.5, 3.0))
    elif name == 'tent':  # lit left face, shaded right face
        apex_x = points[1, 0]
        shade = np.where(xs < apex_x, 1.1, 0.8)
    else:  # kite: dark vertical and horizontal spars
        top, right, bottom, left = points
        spar_y = (right[1] + left[1]) / 2
        spar_x = top[0] + (bottom[0] - top[0]) * (ys - top[1]) / max(bottom[1] - top[1], 1e-3)
        on_spar = (np.abs(xs - spar_x) < 1.0) | (np.abs(ys - spar_y) < 1.0)
        shade = np.where(on_spar, 0.55, 1.0)
    return colour * shade[..., None] + rng.normal(0, 10, (height, width, 3))


def _outer_ring(mask):
    """Pixels 4-adjacent to ``mask`` but outside it, (H, W) bool."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown & ~mask


def generate_scene(seed, split, index, size=(96, 128)):
    """Renders scene ``index`` of ``split`` ('train' or 'val') at ``size`` = (H, W)."""
    height, width = size
    rng = np.random.default_rng([seed, _SPLIT_CODES[split], index])
    image, label = _paint_background(rng, height, width)
    min_side = min(height, width)
    num_things = int(rng.integers(1, MAX_OBJECTS + 1))
    # The first thing cycles through the classes so any 4 consecutive scenes cover all of them.
    names = [TOY_THING_CLASSES[index % len(TOY_THING_CLASSES)]]
    names += [TOY_THING_CLASSES[i] for i in rng.integers(0, len(TOY_THING_CLASSES), num_things - 1)]

    instances, visible = [], []
    for name in names:
        for _ in range(MAX_PLACEMENT_TRIES):
            radius = rng.uniform(0.10, 0.24) * min_side
            polygon = _place_polygon(rng, _shape_polygon(rng, name, radius), height, width)
            mask = rasterize_polygon(polygon, height, width)
            hides_too_much = any(
                (seen & ~mask).sum() < MIN_VISIBLE_FRACTION * earlier.mask.sum()
                for seen, earlier in zip(visible, instances))
            if mask.any() and not hides_too_much:
                break
        else:
            continue
        appearance = _texture_thing(rng, name, polygon, height, width)
        image[mask] = appearance[mask]
        label[mask] = class_label(name)
        label[_outer_ring(mask)] = UNLABELLED
        visible = [seen & ~mask for seen in visible] + [mask]
        instances.append(ToyInstance(name, polygon, mask))
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return ToyScene(image=image, label=label, instances=instances)


def _prepare_dir(path, prefix):
    """Creates ``path`` and removes files named ``prefix*`` left by an earlier generation."""
    os.makedirs(path, exist_ok=True)
    for name in sorted(os.listdir(path)):
        if name.startswith(prefix):
            os.remove(osp.join(path, name))


def _write_jpg(path, rgb):
    if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f'could not write {path}')


def _write_png(path, label):
    if not cv2.imwrite(path, label):
        raise OSError(f'could not write {path}')


def make_toy_ade(root, num_train=64, num_val=16, size=(96, 128), seed=0):
    """Writes an ADE20K-style toy dataset and returns a summary dict.

    Layout: ``root/images/{training,validation}/toy_{train,val}_NNNNNN.jpg`` (RGB, size (H, W)) and
    ``root/annotations/{training,validation}/toy_{train,val}_NNNNNN.png`` (uint8 labels, 0 =
    unlabelled, ``TOY_CLASSES[i]`` = i + 1).
    """
    summary = {'root': str(root), 'classes': TOY_CLASSES, 'splits': {}}
    for split, folder, count in (('train', 'training', num_train), ('val', 'validation', num_val)):
        prefix = f'toy_{split}_'
        img_dir = osp.join(root, 'images', folder)
        ann_dir = osp.join(root, 'annotations', folder)
        _prepare_dir(img_dir, prefix)
        _prepare_dir(ann_dir, prefix)
        for index in range(count):
            scene = generate_scene(seed, split, index, size)
            stem = f'{prefix}{index:06d}'
            _write_jpg(osp.join(img_dir, stem + '.jpg'), scene.image)
            _write_png(osp.join(ann_dir, stem + '.png'), scene.label)
        summary['splits'][folder] = {'img_dir': img_dir, 'ann_dir': ann_dir, 'num_images': count}
    return summary


def make_toy_coco(root, num_train=64, num_val=16, size=(96, 128), seed=0):
    """Writes a COCO-style toy instance dataset and returns a summary dict.

    Layout: ``root/{train,val}/toy_{train,val}_NNNNNN.jpg``,
    ``root/annotations/instances_{train,val}.json`` (things only, category ids
    ``TOY_COCO_CATEGORY_IDS``, one full polygon per instance, ``area`` = polygon area, ``bbox`` =
    polygon extent, image ids from 1) and ``root/semantic/{train,val}/toy_*.png`` (label maps of all
    six classes in the ADE toy convention, with occlusion).
    """
    height, width = size
    categories = [{'id': TOY_COCO_CATEGORY_IDS[name], 'name': name,
                   'supercategory': 'thing'} for name in TOY_THING_CLASSES]
    ann_dir = osp.join(root, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    summary = {'root': str(root), 'classes': TOY_THING_CLASSES, 'splits': {}}
    for split, count in (('train', num_train), ('val', num_val)):
        prefix = f'toy_{split}_'
        img_dir = osp.join(root, split)
        sem_dir = osp.join(root, 'semantic', split)
        _prepare_dir(img_dir, prefix)
        _prepare_dir(sem_dir, prefix)
        images, annotations = [], []
        for index in range(count):
            scene = generate_scene(seed, split, index, size)
            stem = f'{prefix}{index:06d}'
            _write_jpg(osp.join(img_dir, stem + '.jpg'), scene.image)
            _write_png(osp.join(sem_dir, stem + '.png'), scene.label)
            image_id = index + 1
            images.append({'id': image_id, 'file_name': stem + '.jpg',
                           'height': height, 'width': width})
            for instance in scene.instances:
                annotations.append({
                    'id': len(annotations) + 1,
                    'image_id': image_id,
                    'category_id': TOY_COCO_CATEGORY_IDS[instance.name],
                    'segmentation': [instance.polygon],
                    'area': round(polygon_area(instance.polygon), 2),
                    'bbox': polygon_bbox(instance.polygon),
                    'iscrowd': 0,
                })
        ann_file = osp.join(ann_dir, f'instances_{split}.json')
        with open(ann_file, 'w') as f:
            json.dump({'info': {'description': 'clipdense toy scenes', 'seed': seed},
                       'images': images, 'annotations': annotations,
                       'categories': categories}, f)
        summary['splits'][split] = {'img_dir': img_dir, 'ann_file': ann_file,
                                    'semantic_dir': sem_dir, 'num_images': count,
                                    'num_instances': len(annotations)}
    return summary
