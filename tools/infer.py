"""Segment or detect any images with any words.

    python tools/infer.py CONFIG IMAGE_OR_FOLDER [...] [--checkpoint CKPT]
        [--texts "cat, dog; puppy, grass" | --vocab FILE] [--out-dir DIR] [--score-thr 0.3]
        [--probs] [--bg-threshold 0.5] [--score-maps]

Writes per image: ``<name>_overlay.png`` (with a legend) and, for segmentation,
``<name>_labels.png`` (class indices into the vocabulary) and with ``--probs``
``<name>_probs.npz`` (``probs``: float32 ``(K, H, W)`` per-class scores whose argmax is the label
map, ``classes``), for detection
``<name>.json`` (boxes, scores, class names, and COCO RLE masks for instance segmentation); with
``--score-maps`` (DenseCLIP) ``<name>_score_map.npz``; plus ``results.json``.
Synonyms of one class are separated by ';', classes by ','. Without a vocabulary the model's own
classes are used.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Open-vocabulary inference on images')
    parser.add_argument('config', help='model config file')
    parser.add_argument('inputs', nargs='+', help='image files and/or folders of images')
    parser.add_argument('--checkpoint', help='trained weights (optional for zero-shot configs)')
    parser.add_argument('--texts', help='comma-separated class names; ";" separates synonyms')
    parser.add_argument('--vocab', help='file with one class per line (";" for synonyms)')
    parser.add_argument('--out-dir', default='infer_out', help='output folder')
    parser.add_argument('--device', default='cpu', help='e.g. cpu or cuda:0')
    parser.add_argument('--score-thr', type=float, default=0.3, help='detection score threshold')
    parser.add_argument('--opacity', type=float, default=0.5, help='segmentation overlay opacity')
    parser.add_argument('--probs', action='store_true',
                        help='also write per-class probability maps (<name>_probs.npz)')
    parser.add_argument('--bg-threshold', type=float,
                        help='zero-shot models: pixels whose best probability is below this '
                        'become "background" (which must be in the vocabulary)')
    parser.add_argument('--proposals', help='OVSeg configs: folder of external mask proposals, '
                        '<image stem>.json per image (e.g. SAM masks as RLE), classified by CLIP')
    parser.add_argument('--score-maps', action='store_true',
                        help='DenseCLIP configs: also write the pixel-text score maps '
                        '(<name>_score_map.npz: score_map float32 (K, h, w) cosine at the '
                        'dense-feature stride, classes, stride, img_shape)')
    return parser.parse_args(argv)


def set_background_threshold(model, threshold: float) -> None:
    """Turns on a zero-shot model's background probability threshold (training-free peers)."""
    if not hasattr(model, 'prob_threshold'):
        raise ValueError('--bg-threshold needs a zero-shot config (MaskCLIP / CLIP-DINOiser)')
    if not 0 < threshold < 1:
        raise ValueError(f'--bg-threshold must be in (0, 1), got {threshold}')
    if model.background_index is None:
        raise ValueError('--bg-threshold needs a "background" class in the vocabulary, e.g. '
                         '--texts "background, cat, dog"')
    model.prob_threshold = threshold


def main(argv=None):
    args = parse_args(argv)
    import numpy as np
    from tqdm import tqdm

    from clipdense.apis.inference import (Predictor, check_images, collect_images,
                                          load_rgb_image, palette, read_vocabulary)
    from clipdense.apis.visualize import (draw_detections, draw_segmentation, encode_mask_rle,
                                          label_map_dtype, write_json, write_png)
    from clipdense.utils import atomic_save, check_writable_dir

    if not 0 <= args.opacity <= 1:
        raise ValueError(f'--opacity must be in [0, 1], got {args.opacity}')
    check_writable_dir(args.out_dir, '--out-dir')
    vocabulary = read_vocabulary(args.texts, args.vocab)
    images = collect_images(args.inputs)
    stems = [p.stem for p in images]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise ValueError(f'several inputs share the names {duplicates}; outputs would collide')
    check_images(images)

    config = args.config
    if args.proposals:
        from clipdense.datasets.ovseg_transforms import config_with_mask_proposals
        config = config_with_mask_proposals(args.config, args.proposals, images)
    predictor = Predictor(config, args.checkpoint, args.device, vocabulary)
    if args.bg_threshold is not None:
        set_background_threshold(predictor.model, args.bg_threshold)
    if args.score_maps and not hasattr(predictor.model, 'pixel_text_scores'):
        raise ValueError(f'--score-maps needs a DenseCLIP config; {args.config} builds '
                         f'{type(predictor.model).__name__}')
    names = predictor.class_names
    colours = palette(len(names))
    os.makedirs(args.out_dir, exist_ok=True)
    summary = dict(task=predictor.task, classes=names, images=[])
    for path in tqdm(images, desc='infer', unit='img'):
        rgb = load_rgb_image(path)
        base = os.path.join(args.out_dir, path.stem)
        entry = dict(image=str(path), overlay=f'{base}_overlay.png')
        if args.score_maps:
            entry['score_map'] = f'{base}_score_map.npz'
            maps = predictor.pixel_text_scores(str(path))
            atomic_save(entry['score_map'], lambda f: np.savez_compressed(
                f, score_map=maps['score_map'].numpy(), classes=np.array(names),
                stride=maps['stride'], img_shape=np.array(maps['img_shape'])))
        if predictor.task == 'seg':
            scores = predictor.seg_scores(str(path)).cpu()
            prediction = scores.argmax(0).numpy()
            if args.probs:
                entry['probs'] = f'{base}_probs.npz'
                atomic_save(entry['probs'], lambda f: np.savez_compressed(
                    f, probs=scores.float().numpy(), classes=np.array(names)))
            write_png(f'{base}_labels.png', prediction.astype(label_map_dtype(len(names))))
            write_png(entry['overlay'], draw_segmentation(rgb, prediction, names, colours,
                                                          args.opacity))
            present, counts = np.unique(prediction, return_counts=True)
            entry.update(labels=f'{base}_labels.png', pixel_fraction={
                names[c]: round(float(n) / prediction.size, 4) for c, n in zip(present, counts)})
        else:
            prediction = predictor.predict(str(path))
            keep = prediction['scores'] >= args.score_thr
            kept = {k: v[keep] for k, v in prediction.items()}
            detections = [dict(bbox=[round(float(v), 2) for v in box], score=float(score),
                               label=int(label), class_name=names[label])
                          for box, score, label in zip(kept['boxes'], kept['scores'],
                                                       kept['labels'])]
            for detection, mask in zip(detections, kept.get('masks', ())):
                detection['mask_rle'] = encode_mask_rle(mask)
            write_json(f'{base}.json', detections)
            write_png(entry['overlay'], draw_detections(rgb, kept, names, colours))
            entry.update(detections=f'{base}.json', count=len(detections))
        summary['images'].append(entry)
    write_json(os.path.join(args.out_dir, 'results.json'), summary)
    return summary


if __name__ == '__main__':
    main()
