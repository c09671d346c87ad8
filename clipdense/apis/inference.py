"""Inference on image files with any clipdense config (segmentation or detection).

Used by ``tools/infer.py``. Open-vocabulary models (those with ``set_vocabulary``) take any words;
closed-set models accept a vocabulary that is a subset of the classes they were trained on and
restrict their predictions to it.
"""
import os
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from clipdense.clip.text_classifier import parse_class_names, parse_vocabulary

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def collect_images(inputs: Sequence[str]) -> List[Path]:
    """Image files from paths and folders (folders: sorted, non-recursive)."""
    images = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise FileNotFoundError(f'folder {path} contains no images ({IMAGE_SUFFIXES})')
            images += found
        elif path.is_file():
            images.append(path)
        else:
            raise FileNotFoundError(f'input {path} does not exist')
    if not images:
        raise ValueError('no input images given')
    return images


def load_rgb_image(path) -> np.ndarray:
    """Fully decodes an image file into RGB uint8 ``(H, W, 3)``; raises ``ValueError`` naming
    the file when it is not a complete image for PIL or for OpenCV (which the data pipeline
    uses). 16-bit (and 32-bit integer) grayscale is scaled to 8 bit as OpenCV scales it for
    the model (``value >> 8``), so overlays show what the model saw."""
    import mmcv
    from PIL import Image
    try:
        with open(path, 'rb') as f:
            payload = f.read()
        if mmcv.imfrombytes(payload, flag='color') is None:
            raise ValueError('OpenCV cannot decode it')
        with Image.open(path) as image:
            image.load()  # the full decode: a truncated file fails here, not verify()
            if image.mode.startswith('I'):
                gray = (np.asarray(image).astype(np.int64) >> 8).clip(0, 255).astype(np.uint8)
                return np.repeat(gray[..., None], 3, axis=2)
            if image.mode == 'F':
                gray = np.asarray(image).clip(0, 255).astype(np.uint8)
                return np.repeat(gray[..., None], 3, axis=2)
            return np.asarray(image.convert('RGB'))
    except Exception as err:  # PIL and OpenCV raise many types for broken files
        raise ValueError(f'{path} ({err})') from err


def check_images(paths: Sequence[Path]) -> None:
    """Decodes every image before anything is computed or written; one error lists all
    unreadable ones."""
    unreadable = []
    for path in paths:
        try:
            load_rgb_image(path)
        except ValueError as err:
            unreadable.append(str(err))
    if unreadable:
        raise ValueError('unreadable images: ' + '; '.join(unreadable))


def read_vocabulary(texts: Optional[str] = None, vocab_file: Optional[str] = None):
    """Parses ``--texts "cat, dog; puppy"`` or a file (one class per line, synonyms with ';')."""
    if texts and vocab_file:
        raise ValueError('give either --texts or --vocab, not both')
    if vocab_file:
        if not os.path.isfile(vocab_file):
            raise FileNotFoundError(f'vocabulary file not found: {vocab_file}')
        with open(vocab_file, 'rb') as f:
            raw = f.read()
        try:
            text = raw.decode('utf-8-sig')  # a byte-order mark is not part of the first name
        except UnicodeDecodeError as err:
            line = raw[:err.start].count(b'\n') + 1
            raise ValueError(f'vocabulary file {vocab_file}, line {line}: not UTF-8 text (byte '
                             f'{raw[err.start]:#04x}); save the file as UTF-8') from err
        lines = [line.strip() for line in text.splitlines()
                 if line.strip() and not line.startswith('#')]
        if not lines:
            raise ValueError(f'vocabulary file {vocab_file} is empty')
        return parse_class_names(lines)
    if texts is not None:
        if not texts.strip(' ,;\n'):
            raise ValueError('the vocabulary given with --texts is empty')
        return parse_vocabulary(texts)
    return None


def config_classes(cfg: Config) -> Optional[tuple]:
    """Class names of the config's test dataset (its METAINFO or a metainfo override), looked
    up in the registry of the config's ``default_scope`` (mmseg's or mmdet's)."""
    from mmengine.registry import DATASETS
    dataset = cfg.test_dataloader.dataset
    if dataset.get('metainfo', {}).get('classes'):
        return tuple(dataset.metainfo['classes'])
    dataset_type = dataset.get('type')
    if not isinstance(dataset_type, str):
        dataset_cls = dataset_type
    else:
        with DATASETS.switch_scope_and_registry(cfg.get('default_scope')) as registry:
            dataset_cls = registry.get(dataset_type)
    metainfo = getattr(dataset_cls, 'METAINFO', None) or {}
    return tuple(metainfo['classes']) if metainfo.get('classes') else None


class Predictor:
    """Builds a model from a config (+ optional checkpoint) and predicts on image files.

    Args:
        config: config file or :class:`Config`.
        checkpoint: trained weights (default: the config's ``load_from``), loaded weights-only
            and strictly; optional only for models whose weights all come from the config
            (``weights_from_config``, e.g. zero-shot MaskCLIP).
        vocabulary: class names (synonym lists allowed) or None for the model's own classes.
    """

    def __init__(self, config, checkpoint: Optional[str] = None, device: str = 'cpu',
                 vocabulary=None):
        cfg = Config.fromfile(config) if not isinstance(config, Config) else config
        if cfg.get('custom_imports'):
            import_modules_from_strings(**cfg.custom_imports)
        self.task = 'det' if cfg.get('default_scope') == 'mmdet' else 'seg'
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        from mmengine.registry import MODELS

        from clipdense.apis.trained_weights import (load_trained_checkpoint,
                                                    require_trained_weights)
        cfg.model.train_cfg = None
        checkpoint = checkpoint if checkpoint is not None else cfg.get('load_from')
        if checkpoint is not None and not os.path.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        # randomly initialised parts (toy configs) come out the same in every call
        with torch.random.fork_rng():
            torch.manual_seed((cfg.get('randomness') or {}).get('seed') or 0)
            model = MODELS.build(cfg.model)
            require_trained_weights(model, checkpoint, getattr(cfg, 'filename', None) or
                                    'the config')
            if checkpoint is None and hasattr(model, 'init_weights'):
                model.init_weights()
        classes = config_classes(cfg)
        if checkpoint is not None:
            meta = load_trained_checkpoint(model, checkpoint).get('meta', {})
            classes = tuple(meta.get('dataset_meta', {}).get('classes') or classes or ())
        self.model = model.to(device).eval()
        self.cfg = cfg
        self.model_classes = list(classes or ())
        self.class_index = None  # positions of the vocabulary in a closed-set model's classes
        if vocabulary is None:
            if not self.model_classes:
                raise ValueError('the model has no class names; give a vocabulary')
            self.class_names = list(self.model_classes)
            if hasattr(model, 'set_vocabulary') and not getattr(model, 'vocabulary', None):
                model.set_vocabulary(self.class_names)  # zero-shot: the dataset's classes
        elif hasattr(model, 'set_vocabulary'):
            model.set_vocabulary(vocabulary)
            self.class_names = [names[0] for names in vocabulary]
        else:
            self.class_index, self.class_names = self._match_closed_set(vocabulary)
        pipeline = [dict(t) for t in cfg.test_dataloader.dataset.pipeline
                    if t['type'] not in ('LoadAnnotations', 'LoadPanopticAnnotations')]
        self.pipeline = Compose(pipeline)

    def _test_step(self, image_path: str):
        data = self.pipeline(dict(img_path=str(image_path)))
        batch = dict(inputs=[data['inputs']], data_samples=[data['data_samples']])
        return self.model.test_step(batch)[0]

    @torch.no_grad()
    def seg_scores(self, image_path: str) -> torch.Tensor:
        """Per-class scores ``(K, H, W)`` at the original image size, in ``class_names`` order
        (probabilities for zero-shot models, logits for closed-set ones)."""
        scores = self._test_step(image_path).seg_logits.data
        return scores[self.class_index] if self.class_index is not None else scores

    def _match_closed_set(self, vocabulary):
        lookup = {name.lower(): i for i, name in enumerate(self.model_classes)}
        index, names = [], []
        for synonyms in vocabulary:
            hits = [lookup[s.lower()] for s in synonyms if s.lower() in lookup]
            if not hits:
                raise ValueError(
                    f'class {synonyms[0]!r} is not one of this closed-set model\'s classes '
                    f'{self.model_classes}; use an open-vocabulary config for new words')
            index.append(hits[0])
            names.append(self.model_classes[hits[0]])
        return index, names

    @torch.no_grad()
    def predict(self, image_path: str):
        """Seg: ``(H, W)`` int64 indices into ``class_names``. Det: dict of boxes/scores/labels
        (and ``masks`` ``(N, H, W)`` bool for instance segmentation models)."""
        if self.task == 'seg':
            return self.seg_scores(image_path).argmax(0).cpu().numpy()
        sample = self._test_step(image_path)
        instances = sample.pred_instances
        keep = torch.ones(len(instances), dtype=torch.bool)
        labels = instances.labels.cpu()
        if self.class_index is not None:
            mapping = {c: i for i, c in enumerate(self.class_index)}
            keep = torch.tensor([int(l) in mapping for l in labels], dtype=torch.bool)
            labels = torch.tensor([mapping.get(int(l), -1) for l in labels])
        result = dict(boxes=instances.bboxes.cpu()[keep].numpy(),
                      scores=instances.scores.cpu()[keep].numpy(), labels=labels[keep].numpy())
        if 'masks' in instances:
            result['masks'] = instances.masks.cpu()[keep].numpy().astype(bool)
        return result

    @torch.no_grad()
    def pixel_text_scores(self, image_path: str) -> dict:
        """DenseCLIP models' pixel-text matching on the whole test-resized (and padded) image:
        ``score_map`` ``(K, h, w)`` cosine at the dense-feature ``stride`` and
        ``text_embeddings`` ``(K, C)``, in ``class_names`` order, plus the resized image's
        ``img_shape`` (cells past it are padding)."""
        if not hasattr(self.model, 'pixel_text_scores'):
            raise ValueError(f'{type(self.model).__name__} has no pixel-text score map '
                             '(DenseCLIP segmentors and detectors have)')
        data = self.pipeline(dict(img_path=str(image_path)))
        batch = self.model.data_preprocessor(
            dict(inputs=[data['inputs']], data_samples=[data['data_samples']]), False)
        text, score_map = self.model.pixel_text_scores(batch['inputs'])
        index = self.class_index if self.class_index is not None else slice(None)
        return dict(score_map=score_map[0, index].float().cpu(),
                    text_embeddings=text[0, index].float().cpu(),
                    stride=batch['inputs'].shape[-1] // score_map.shape[-1],
                    img_shape=tuple(data['data_samples'].metainfo['img_shape']))


def palette(num_classes: int) -> np.ndarray:
    """A fixed RGB colour per class ``(K, 3)`` uint8: hues a golden angle apart, so neighbouring
    class indices never look alike; saturation and value alternate for large vocabularies."""
    import colorsys
    colours = [colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.85 - 0.25 * (i // 7 % 2),
                                   0.95 - 0.3 * (i // 14 % 2)) for i in range(num_classes)]
    return (np.array(colours).reshape(-1, 3) * 255).round().astype(np.uint8)
