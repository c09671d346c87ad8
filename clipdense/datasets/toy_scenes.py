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

Typed scenes (:func:`generate_typed_scene`, :func:`make_toy_coco_scenes`, for BIRDet) add an
image-level scene label: the background is a meadow (the scenes above), a beach (sea band over
speckled sand), snow, night (dark sky with stars, dark grass, things darkened) or a room (striped
wallpaper over a plank floor); and partial objects: things cut by the image border (annotated by
their visible polygon) or split in two by a scene occluder (trunk, post, lamp post, pillar;
annotated by the full polygon). They draw from their own random stream, so the toy ADE / COCO
outputs above are unchanged by their existence.

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
from typing import Optional

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from clipdense.utils.atomic_io import atomic_write

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
    full (unoccluded) boolean mask of shape (H, W). ``partial`` (typed scenes only): ``'border'``
    (cut by the image border; the polygon is the part inside), ``'split'`` (a scene occluder cuts
    it in two visible pieces) or None."""
    name: str
    polygon: list
    mask: np.ndarray = field(repr=False)
    partial: Optional[str] = None


@dataclass
class ToyScene:
    """An RGB image (H, W, 3) uint8, a label map (H, W) uint8 in ADE convention and its things in
    painting order."""
    image: np.ndarray = field(repr=False)
    label: np.ndarray = field(repr=False)
    instances: list
    scene_type: str = 'meadow'


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
    return _hsv_colour(rng, _CLASS_HSV[name])


def _hsv_colour(rng, hsv_box):
    """RGB colour (3,) float32 in 0..255, uniform in ``hsv_box`` = (hue degrees, saturation,
    value) ranges."""
    (h_lo, h_hi), (s_lo, s_hi), (v_lo, v_hi) = hsv_box
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


def _thing_names(rng, index):
    """1..MAX_OBJECTS thing classes; the first cycles through the classes so any 4 consecutive
    scenes cover all of them."""
    num_things = int(rng.integers(1, MAX_OBJECTS + 1))
    names = [TOY_THING_CLASSES[index % len(TOY_THING_CLASSES)]]
    return names + [TOY_THING_CLASSES[i]
                    for i in rng.integers(0, len(TOY_THING_CLASSES), num_things - 1)]


def _hides_too_much(mask, visible, instances):
    """Whether painting ``mask`` would leave an earlier thing less than MIN_VISIBLE_FRACTION of
    its pixels visible (``visible``: their visible masks, in painting order)."""
    return any((seen & ~mask).sum() < MIN_VISIBLE_FRACTION * earlier.mask.sum()
               for seen, earlier in zip(visible, instances))


def generate_scene(seed, split, index, size=(96, 128)):
    """Renders scene ``index`` of ``split`` ('train' or 'val') at ``size`` = (H, W)."""
    height, width = size
    rng = np.random.default_rng([seed, _SPLIT_CODES[split], index])
    image, label = _paint_background(rng, height, width)
    min_side = min(height, width)
    names = _thing_names(rng, index)

    instances, visible = [], []
    for name in names:
        for _ in range(MAX_PLACEMENT_TRIES):
            radius = rng.uniform(0.10, 0.24) * min_side
            polygon = _place_polygon(rng, _shape_polygon(rng, name, radius), height, width)
            mask = rasterize_polygon(polygon, height, width)
            hides_too_much = _hides_too_much(mask, visible, instances)
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


def _coco_categories():
    return [{'id': TOY_COCO_CATEGORY_IDS[name], 'name': name, 'supercategory': 'thing'}
            for name in TOY_THING_CLASSES]


def _coco_annotation(ann_id, image_id, instance):
    """COCO annotation of a :class:`ToyInstance`: its polygon, shoelace area, polygon extent."""
    return {
        'id': ann_id,
        'image_id': image_id,
        'category_id': TOY_COCO_CATEGORY_IDS[instance.name],
        'segmentation': [instance.polygon],
        'area': round(polygon_area(instance.polygon), 2),
        'bbox': polygon_bbox(instance.polygon),
        'iscrowd': 0,
    }


def make_toy_coco(root, num_train=64, num_val=16, size=(96, 128), seed=0):
    """Writes a COCO-style toy instance dataset and returns a summary dict.

    Layout: ``root/{train,val}/toy_{train,val}_NNNNNN.jpg``,
    ``root/annotations/instances_{train,val}.json`` (things only, category ids
    ``TOY_COCO_CATEGORY_IDS``, one full polygon per instance, ``area`` = polygon area, ``bbox`` =
    polygon extent, image ids from 1) and ``root/semantic/{train,val}/toy_*.png`` (label maps of all
    six classes in the ADE toy convention, with occlusion).
    """
    height, width = size
    categories = _coco_categories()
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
            annotations += [_coco_annotation(len(annotations) + k + 1, image_id, instance)
                            for k, instance in enumerate(scene.instances)]
        ann_file = osp.join(ann_dir, f'instances_{split}.json')
        with open(ann_file, 'w') as f:
            json.dump({'info': {'description': 'clipdense toy scenes', 'seed': seed},
                       'images': images, 'annotations': annotations,
                       'categories': categories}, f)
        summary['splits'][split] = {'img_dir': img_dir, 'ann_file': ann_file,
                                    'semantic_dir': sem_dir, 'num_images': count,
                                    'num_instances': len(annotations)}
    return summary


# ---------------------------------------------------------------------------------------------
# Typed scenes (BIRDet): scene-dependent backgrounds with an image-level scene label, and partial
# objects. A separate random stream (the extra seed word below), so the scenes above never change.
# ---------------------------------------------------------------------------------------------
SCENE_TYPES = ('meadow', 'beach', 'snow', 'night', 'room')
PARTIAL_KINDS = ('border', 'split')
_TYPED_SCENE_STREAM = 1
MIN_THING_PIXELS = 12
# Fraction of a border-cut thing's extent (along the cut axis) that lies outside the image.
_BORDER_CUT_RANGE = (0.3, 0.6)
# Colours of the vertical occluder that splits a thing ('split' partial case), per scene:
# a tree trunk, a wooden post, a dark pine trunk, a lamp post, a white pillar.
_OCCLUDER_RGB = {'meadow': (95, 62, 35), 'beach': (150, 118, 85), 'snow': (62, 46, 36),
                 'night': (38, 38, 44), 'room': (225, 220, 210)}
_SCENE_HSV = {
    'beach_sea': ((190, 215), (0.50, 0.80), (0.45, 0.70)),
    'beach_sand': ((35, 50), (0.25, 0.45), (0.75, 0.92)),
    'snow_sky': ((200, 220), (0.05, 0.20), (0.75, 0.90)),
    'night_sky': ((220, 240), (0.50, 0.80), (0.08, 0.20)),
    'room_wall': ((20, 60), (0.10, 0.30), (0.75, 0.90)),
    'room_floor': ((20, 35), (0.45, 0.65), (0.40, 0.60)),
}


def _wavy_line(rng, height, width, level_range, amplitude_range):
    """A horizon-like curve: (W,) float32 row positions around ``level_range`` * H."""
    xs = np.arange(width, dtype=np.float32)
    return (rng.uniform(*level_range) * height
            + rng.uniform(*amplitude_range) * height
            * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * xs / width + rng.uniform(0, 2 * np.pi)))


def _sky(rng, hsv_box, height, width, horizon):
    """Sky colour, lighter towards ``horizon`` (W,), with pixel noise: (H, W, 3) float."""
    ys = np.arange(height, dtype=np.float32)[:, None]
    sky = np.broadcast_to(_hsv_colour(rng, hsv_box), (height, width, 3))
    towards_horizon = np.clip(ys / np.maximum(horizon[None, :], 1.0), 0, 1)[..., None]
    return sky * (0.85 + 0.2 * towards_horizon) + rng.normal(0, 5, (height, width, 3))


def _paint_scene_background(rng, scene_type, height, width):
    """Float RGB background (H, W, 3) of a scene type (see :data:`SCENE_TYPES`)."""
    if scene_type == 'meadow':
        return _paint_background(rng, height, width)[0]
    ys = np.arange(height, dtype=np.float32)[:, None]
    if scene_type == 'beach':  # sky, a band of sea with wave streaks, sand with speckles
        horizon = _wavy_line(rng, height, width, (0.28, 0.42), (0.0, 0.01))
        shore = horizon + _wavy_line(rng, height, width, (0.12, 0.22), (0.01, 0.04))
        sea = np.broadcast_to(_hsv_colour(rng, _SCENE_HSV['beach_sea']), (height, width, 3))
        waves = np.sin(2 * np.pi * ys / rng.uniform(3.0, 6.0)) + _upsampled_noise(
            rng, height, width, cell=8)
        sea = sea * (1.0 + 0.06 * waves[..., None]) + rng.normal(0, 6, (height, width, 3))
        sand = np.broadcast_to(_hsv_colour(rng, _SCENE_HSV['beach_sand']), (height, width, 3))
        sand = sand * (1.0 + 0.05 * _upsampled_noise(rng, height, width, cell=12))[..., None]
        sand = sand + rng.normal(0, 9, (height, width, 3))
        image = np.where((ys < shore[None, :])[..., None], sea, sand)
        return np.where((ys < horizon[None, :])[..., None],
                        _sky(rng, _CLASS_HSV['sky'], height, width, horizon), image)
    if scene_type == 'snow':  # pale sky, white snow with soft blue shadows
        horizon = _wavy_line(rng, height, width, (0.30, 0.55), (0.02, 0.08))
        shadows = np.clip(_upsampled_noise(rng, height, width, cell=14), 0, None)[..., None]
        snow = (np.float32([238, 242, 250]) * (1.0 - 0.07 * shadows)
                + np.float32([-12, -6, 4]) * shadows + rng.normal(0, 4, (height, width, 3)))
        return np.where((ys < horizon[None, :])[..., None],
                        _sky(rng, _SCENE_HSV['snow_sky'], height, width, horizon), snow)
    if scene_type == 'night':  # dark sky with stars over dark grass
        horizon = _wavy_line(rng, height, width, (0.35, 0.65), (0.02, 0.08))
        sky = _sky(rng, _SCENE_HSV['night_sky'], height, width, horizon)
        stars = rng.random((height, width)) < 0.006
        sky = np.where(stars[..., None], rng.uniform(170, 255, (height, width, 1)), sky)
        grass = np.broadcast_to(_instance_colour(rng, 'grass') * 0.3, (height, width, 3))
        grass = grass * (1.0 + 0.12 * _upsampled_noise(rng, height, width, cell=16))[..., None]
        grass = grass + rng.normal(0, 4, (height, width, 3))
        return np.where((ys < horizon[None, :])[..., None], sky, grass)
    if scene_type == 'room':  # striped wallpaper above a wooden plank floor
        xs = np.arange(width, dtype=np.float32)[None, :]
        floor_level = rng.uniform(0.55, 0.75) * height
        wall = np.broadcast_to(_hsv_colour(rng, _SCENE_HSV['room_wall']), (height, width, 3))
        stripes = np.sin(2 * np.pi * xs / rng.uniform(6.0, 12.0))
        wall = wall * (1.0 + 0.05 * stripes)[..., None] + rng.normal(0, 4, (height, width, 3))
        floor = np.broadcast_to(_hsv_colour(rng, _SCENE_HSV['room_floor']), (height, width, 3))
        plank = rng.uniform(5.0, 9.0)
        seams = (np.mod(ys - floor_level, plank) < 1.0).astype(np.float32)
        grain = rng.standard_normal((1, width + 8)).astype(np.float32)
        grain = sum(grain[:, k:k + width] for k in range(9)) / 3.0
        floor = floor * (1.0 - 0.35 * seams + 0.05 * grain)[..., None]
        floor = floor + rng.normal(0, 6, (height, width, 3))
        return np.where((ys < floor_level)[..., None], wall, floor)
    raise KeyError(f'unknown scene type {scene_type!r}; choose from {SCENE_TYPES}')


def _clip_polygon_to_image(points, height, width):
    """Sutherland-Hodgman clip of a convex (N, 2) polygon to the image rectangle -> (M, 2)."""
    def clip(poly, axis, bound, keep_below):
        inside = (lambda p: p[axis] <= bound) if keep_below else (lambda p: p[axis] >= bound)
        out = []
        for k in range(len(poly)):
            current, previous = poly[k], poly[k - 1]
            if inside(current) != inside(previous):
                t = (bound - previous[axis]) / (current[axis] - previous[axis])
                out.append(previous + t * (current - previous))
            if inside(current):
                out.append(current)
        return out
    poly = [np.asarray(p, np.float64) for p in points]
    for axis, bound, keep_below in ((0, 0.0, False), (0, float(width), True),
                                    (1, 0.0, False), (1, float(height), True)):
        poly = clip(poly, axis, bound, keep_below)
        if not poly:
            break
    return np.asarray(poly, np.float64).reshape(-1, 2)


def _place_polygon_across_border(rng, points, height, width):
    """Translates (N, 2) points so that part of the shape leaves the image through one random
    side. Returns ``(whole, clipped)``: the translated shape and its part inside the image, flat
    polygons rounded to 1/100 px (``clipped`` None when nothing is left)."""
    low, high = points.min(0), points.max(0)
    extent = high - low
    side = int(rng.integers(0, 4))  # left, right, top, bottom
    outside = rng.uniform(*_BORDER_CUT_RANGE)
    axis = 0 if side < 2 else 1
    size = (width, height)
    offset = np.array([rng.uniform(-low[0], width - high[0]),
                       rng.uniform(-low[1], height - high[1])])
    if side % 2 == 0:  # left / top: the shape's low end sticks out by outside * extent
        offset[axis] = -low[axis] - outside * extent[axis]
    else:
        offset[axis] = size[axis] - high[axis] + outside * extent[axis]
    whole = [round(float(v), 2) for v in (points + offset).reshape(-1)]
    clipped = _clip_polygon_to_image(points + offset, height, width)
    if len(clipped) < 3:
        return whole, None
    return whole, [round(float(v), 2) for v in clipped.reshape(-1)]


def _occluder_mask(rng, polygon, height, width):
    """A vertical bar (pole, trunk, pillar) crossing the middle of a thing, from above it down to
    the image bottom: (H, W) bool."""
    points = np.asarray(polygon, np.float64).reshape(-1, 2)
    (x0, y0), (x1, _) = points.min(0), points.max(0)
    bar_width = max(2.0, rng.uniform(0.15, 0.28) * (x1 - x0))
    centre = rng.uniform(x0 + 0.4 * (x1 - x0), x0 + 0.6 * (x1 - x0))
    top = rng.uniform(0, y0)
    xs = np.arange(width)[None, :] + 0.5
    ys = np.arange(height)[:, None] + 0.5
    return (np.abs(xs - centre) <= bar_width / 2) & (ys >= top)


def _check_typed_scene_args(scene_types, partial_prob):
    unknown = [name for name in scene_types if name not in SCENE_TYPES]
    if not scene_types or unknown or len(set(scene_types)) != len(scene_types):
        raise ValueError(f'scene_types must be distinct names from {SCENE_TYPES}, '
                         f'got {tuple(scene_types)}')
    if not 0.0 <= partial_prob <= 1.0:
        raise ValueError(f'partial_prob must lie in [0, 1], got {partial_prob}')


def generate_typed_scene(seed, split, index, size=(96, 128), scene_types=SCENE_TYPES,
                         partial_prob=0.3):
    """Renders scene ``index`` of ``split`` with a scene-type background.

    The scene type is ``scene_types[index % len(scene_types)]`` (any ``len(scene_types)``
    consecutive scenes cover all types); things are painted as in :func:`generate_scene`
    (darkened at night); each thing is, with probability ``partial_prob``, a partial case:
    half of them cut by the image border, half split in two by a scene occluder. The label map
    holds the things (class_label) with 0 elsewhere (the scene backgrounds are not labelled).
    Depends only on ``(seed, split, index, size, scene_types, partial_prob)``.
    """
    _check_typed_scene_args(scene_types, partial_prob)
    height, width = size
    rng = np.random.default_rng([seed, _SPLIT_CODES[split], index, _TYPED_SCENE_STREAM])
    scene_type = scene_types[index % len(scene_types)]
    image = _paint_scene_background(rng, scene_type, height, width).astype(np.float32)
    label = np.zeros((height, width), np.uint8)
    light = rng.uniform(0.45, 0.6) if scene_type == 'night' else 1.0
    min_side = min(height, width)
    names = _thing_names(rng, index)

    instances, visible = [], []
    for name in names:
        draw = rng.uniform()
        partial = None if draw >= partial_prob else (
            'border' if draw < partial_prob / 2 else 'split')
        for _ in range(MAX_PLACEMENT_TRIES):
            radius = rng.uniform(0.10, 0.24) * min_side
            points = _shape_polygon(rng, name, radius)
            if partial == 'border':  # textured as the whole shape, annotated by its inside
                shape, polygon = _place_polygon_across_border(rng, points, height, width)
                if polygon is None:
                    continue
            else:
                shape = polygon = _place_polygon(rng, points, height, width)
            mask = rasterize_polygon(polygon, height, width)
            hides_too_much = _hides_too_much(mask, visible, instances)
            if mask.sum() >= MIN_THING_PIXELS and not hides_too_much:
                break
        else:
            continue
        appearance = _texture_thing(rng, name, shape, height, width) * light
        image[mask] = appearance[mask]
        label[mask] = class_label(name)
        own_visible, covered = mask, mask
        if partial == 'split':
            bar = _occluder_mask(rng, polygon, height, width)
            colour = np.float32(_OCCLUDER_RGB[scene_type]) * light
            image[bar] = colour + rng.normal(0, 6, (int(bar.sum()), 3))
            label[bar] = UNLABELLED
            own_visible, covered = mask & ~bar, mask | bar
        visible = [seen & ~covered for seen in visible] + [own_visible]
        instances.append(ToyInstance(name, polygon, mask, partial))
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return ToyScene(image=image, label=label, instances=instances, scene_type=scene_type)


def make_toy_coco_scenes(root, num_train=64, num_val=16, size=(96, 128), seed=0,
                         scene_types=SCENE_TYPES, partial_prob=0.3):
    """Writes typed toy scenes (:func:`generate_typed_scene`) in COCO layout with image-level
    scene labels, and returns a summary dict.

    Layout: ``root/{train,val}/scene_{train,val}_NNNNNN.jpg``;
    ``root/annotations/instances_{train,val}.json`` as :func:`make_toy_coco` (full polygons,
    category ids ``TOY_COCO_CATEGORY_IDS``), plus ``images[i]['scene']`` (the scene type) and
    ``annotations[j]['partial']`` (``'border'``, ``'split'`` or null);
    ``root/annotations/scenes_{train,val}.txt``: one ``<file name> <scene index>`` line per
    image (the Places365 list format); ``root/scene_classes.txt``: the scene types, one a line.
    """
    _check_typed_scene_args(scene_types, partial_prob)
    height, width = size
    categories = _coco_categories()
    ann_dir = osp.join(root, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    scene_file = osp.join(root, 'scene_classes.txt')
    atomic_write(scene_file, ''.join(f'{name}\n' for name in scene_types))
    summary = {'root': str(root), 'classes': TOY_THING_CLASSES,
               'scene_classes': tuple(scene_types), 'scene_file': scene_file, 'splits': {}}
    for split, count in (('train', num_train), ('val', num_val)):
        prefix = f'scene_{split}_'
        img_dir = osp.join(root, split)
        _prepare_dir(img_dir, prefix)
        images, annotations, scene_lines = [], [], []
        for index in range(count):
            scene = generate_typed_scene(seed, split, index, size, scene_types, partial_prob)
            file_name = f'{prefix}{index:06d}.jpg'
            _write_jpg(osp.join(img_dir, file_name), scene.image)
            image_id = index + 1
            images.append({'id': image_id, 'file_name': file_name, 'height': height,
                           'width': width, 'scene': scene.scene_type})
            scene_lines.append(f'{file_name} {scene_types.index(scene.scene_type)}\n')
            annotations += [dict(_coco_annotation(len(annotations) + k + 1, image_id, instance),
                                 partial=instance.partial)
                            for k, instance in enumerate(scene.instances)]
        ann_file = osp.join(ann_dir, f'instances_{split}.json')
        atomic_write(ann_file, json.dumps({
            'info': {'description': 'clipdense typed toy scenes', 'seed': seed,
                     'scene_types': list(scene_types), 'partial_prob': partial_prob},
            'images': images, 'annotations': annotations, 'categories': categories}))
        scene_ann_file = osp.join(ann_dir, f'scenes_{split}.txt')
        atomic_write(scene_ann_file, ''.join(scene_lines))
        summary['splits'][split] = {
            'img_dir': img_dir, 'ann_file': ann_file, 'scene_ann_file': scene_ann_file,
            'num_images': count, 'num_instances': len(annotations),
            'num_partial': sum(a['partial'] is not None for a in annotations)}
    return summary
