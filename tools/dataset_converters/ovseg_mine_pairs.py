"""Mine (image, region mask, text) pairs as OVSeg did: nouns of captions matched to class-agnostic
mask proposals by CLIP.

    python tools/dataset_converters/ovseg_mine_pairs.py CONFIG \\
        --captions data/coco/annotations/captions_train2017.json --img-dir data/coco/train2017 \\
        --proposals proposals_train2017.json --vocab nouns.txt \\
        --out data/coco/ovseg_mined_pairs_train.json [--captions-per-image 1]

Per image: the nouns of its first ``--captions-per-image`` captions (OVSeg used one), the
proposal masks (COCO results format: ``[{"image_id", "segmentation": RLE, "score"}]``, e.g.
a MaskFormer's or SAM's output), all proposals through the region classifier of CONFIG in one
batched call (crop, fill, CLIP), the nouns through its text classifier; each noun gets the
proposal of highest cosine similarity (``--match softmax``: of highest probability of the noun
among all vocabulary classes, robust to what a proposal shares with every text); pairs below
``--min-score`` are dropped.

Noun extraction is a documented vocabulary match (no parser model, nothing downloaded): the
vocabulary file has one class per line with synonyms separated by ``;`` (e.g. ``person; man;
woman; people``). Captions are lower-cased and split into words; at each word the longest
vocabulary term is matched, also in the regular plural of its last word (``+s``, ``+es`` after
s/x/z/ch/sh, ``y -> ies`` after a consonant); irregular plurals belong in the vocabulary as
synonyms. A match yields the class's first name as the pair's text.

CONFIG is a ``MaskAdaptedCLIP`` training config (its ``model.classifier``) or any config with a
top-level ``classifier`` (a ``RegionCLIPClassifier``); ``--cfg-options`` overrides it.
"""
import argparse
import os.path as osp
import re
import sys
from typing import Dict, List, Sequence, Tuple

import numpy as np
from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from clipdense.apis.visualize import encode_mask_rle  # noqa: E402
from clipdense.datasets.ovseg_transforms import decode_rle  # noqa: E402
from clipdense.datasets.region_text import write_region_pairs  # noqa: E402
from clipdense.utils import read_json  # noqa: E402

WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
Matcher = Dict[Tuple[str, ...], int]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Mine OVSeg region-text pairs')
    parser.add_argument('config', help='config with the region classifier')
    parser.add_argument('--captions', required=True, help='COCO captions JSON')
    parser.add_argument('--img-dir', required=True)
    parser.add_argument('--proposals', required=True, help='COCO-results JSON of RLE masks')
    parser.add_argument('--vocab', required=True, help='noun vocabulary, one class per line')
    parser.add_argument('--out', required=True)
    parser.add_argument('--captions-per-image', type=int, default=1)
    parser.add_argument('--templates', default=None,
                        help='template set for the nouns (default: the classifier\'s)')
    parser.add_argument('--match', choices=['cosine', 'softmax'], default='cosine',
                        help='proposal score for a noun: cosine similarity (default) or the '
                        'noun\'s softmax(100 * cos) probability over the vocabulary')
    parser.add_argument('--min-score', type=float, default=-1.0,
                        help='smallest matching score kept')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0,
                        help='torch seed before building (weights not in the file stay fixed)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config entries, e.g. model.classifier.clip.pretrained=F')
    return parser.parse_args(argv)


def plural_forms(word: str) -> List[str]:
    """The word and its regular English plural."""
    if word.endswith(('s', 'x', 'z', 'ch', 'sh')):
        return [word, word + 'es']
    if len(word) > 1 and word.endswith('y') and word[-2] not in 'aeiou':
        return [word, word[:-1] + 'ies']
    return [word, word + 's']


def build_noun_matcher(vocabulary: Sequence[Sequence[str]]) -> Matcher:
    """Word tuples (each synonym, singular and plural) -> class index; first class wins."""
    matcher: Matcher = {}
    for index, synonyms in enumerate(vocabulary):
        for term in synonyms:
            words = WORD.findall(term.lower())
            if not words:
                continue
            for last in plural_forms(words[-1]):
                matcher.setdefault(tuple(words[:-1]) + (last, ), index)
    if not matcher:
        raise ValueError('the noun vocabulary has no usable terms')
    return matcher


def extract_nouns(caption: str, matcher: Matcher) -> List[int]:
    """Class indices of the vocabulary terms in ``caption`` (longest match first, in order of
    appearance, each class once)."""
    words = WORD.findall(caption.lower())
    longest = max(len(k) for k in matcher)
    found, position = [], 0
    while position < len(words):
        for length in range(min(longest, len(words) - position), 0, -1):
            index = matcher.get(tuple(words[position:position + length]))
            if index is not None:
                if index not in found:
                    found.append(index)
                position += length
                break
        else:
            position += 1
    return found


def load_proposals(path: str) -> Dict[int, List[dict]]:
    """COCO-results JSON -> image id -> RLE segmentations."""
    entries = read_json(path, 'proposal file')
    if not isinstance(entries, list):
        raise ValueError(f'{path}: expected a list of {{"image_id", "segmentation"}} entries')
    by_image: Dict[int, List[dict]] = {}
    for index, entry in enumerate(entries):
        if 'image_id' not in entry or 'segmentation' not in entry:
            raise ValueError(f'{path}: entry {index} lacks image_id or segmentation')
        by_image.setdefault(entry['image_id'], []).append(entry['segmentation'])
    return by_image


def build_classifier(config: str, cfg_options=None, device: str = 'cpu', seed: int = 0):
    """The ``RegionCLIPClassifier`` of a config (``model.classifier`` or ``classifier``)."""
    import torch
    import clipdense  # noqa: F401  (registration)
    from mmengine.config import Config
    from clipdense.registry import SEG_MODELS
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    classifier = cfg.get('classifier') or cfg.get('model', {}).get('classifier')
    if classifier is None:
        raise KeyError(f'{config} has neither model.classifier nor classifier')
    classifier = dict(classifier)
    classifier.setdefault('type', 'RegionCLIPClassifier')
    torch.manual_seed(seed)
    return SEG_MODELS.build(classifier).to(device).eval()


def mine_image(classifier, image: np.ndarray, masks: np.ndarray, noun_ids: List[int],
               vocabulary_text, match: str = 'cosine') -> List[Tuple[int, int, float]]:
    """``(position in noun_ids, proposal index, score)``: each noun's best proposal.

    ``vocabulary_text (C, E)`` holds the text embeddings of the whole vocabulary. ``cosine``
    scores a proposal by its cosine similarity with the noun; ``softmax`` by the noun's
    probability among all vocabulary classes (``softmax(100 * cos)``), which discounts what a
    proposal shares with every text.
    """
    import torch
    device = classifier.device
    image_t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().to(device)
    with torch.no_grad():
        embeds, empty = classifier.region_embeddings(image_t,
                                                     torch.from_numpy(masks).to(device))
        cosine = embeds @ vocabulary_text.T
        scores = cosine if match == 'cosine' else \
            classifier.probabilities(embeds, vocabulary_text)
        scores = scores[:, noun_ids].masked_fill(empty[:, None], float('-inf'))
    if bool(empty.all()):
        return []
    best_scores, best = scores.max(dim=0)
    return [(n, int(best[n]), float(best_scores[n])) for n in range(len(noun_ids))]


def mine(classifier, captions_file: str, img_dir: str, proposals_file: str,
         vocabulary: List[List[str]], captions_per_image: int = 1, templates=None,
         min_score: float = -1.0, match: str = 'cosine') -> Tuple[list, list, dict]:
    """Returns ``(images, pairs, stats)`` of the mined pairs."""
    import cv2
    data = read_json(captions_file, 'captions file')
    captions: Dict[int, List[str]] = {}
    for ann in data['annotations']:
        captions.setdefault(ann['image_id'], []).append(ann['caption'])
    proposals = load_proposals(proposals_file)
    matcher = build_noun_matcher(vocabulary)
    vocabulary_text = classifier.encode_vocabulary(vocabulary, templates)
    images, pairs = [], []
    stats = dict(images=0, images_with_nouns=0, nouns=0, dropped_low_score=0)
    for info in sorted(data['images'], key=lambda i: i['id']):
        stats['images'] += 1
        noun_ids: List[int] = []
        for caption in captions.get(info['id'], [])[:captions_per_image]:
            noun_ids += [n for n in extract_nouns(caption, matcher) if n not in noun_ids]
        rles = proposals.get(info['id'], [])
        if not noun_ids or not rles:
            continue
        stats['images_with_nouns'] += 1
        stats['nouns'] += len(noun_ids)
        path = osp.join(img_dir, info['file_name'])
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f'image not found or unreadable: {path}')
        masks = np.stack([decode_rle(rle, f'{proposals_file} image {info["id"]}')
                          for rle in rles])
        if masks.shape[1:] != bgr.shape[:2]:
            raise ValueError(f'proposals of image {info["id"]} are {masks.shape[1:]}, the image '
                             f'{path} is {bgr.shape[:2]}')
        matches = mine_image(classifier, bgr[..., ::-1], masks, noun_ids, vocabulary_text,
                             match)
        kept = [(n, p, s) for n, p, s in matches if s >= min_score]
        stats['dropped_low_score'] += len(matches) - len(kept)
        if not kept:
            continue
        image_id = len(images) + 1
        images.append(dict(id=image_id, file_name=info['file_name'], height=bgr.shape[0],
                           width=bgr.shape[1]))
        for noun, proposal, score in kept:
            mask = masks[proposal]
            pairs.append(dict(id=len(pairs) + 1, image_id=image_id,
                              text=vocabulary[noun_ids[noun]][0], area=int(mask.sum()),
                              mask=encode_mask_rle(mask), score=round(score, 6),
                              proposal_index=proposal))
    return images, pairs, stats


def main(argv=None):
    args = parse_args(argv)
    from clipdense.apis.inference import read_vocabulary
    vocabulary = read_vocabulary(vocab_file=args.vocab)
    classifier = build_classifier(args.config, args.cfg_options, args.device, args.seed)
    images, pairs, stats = mine(classifier, args.captions, args.img_dir, args.proposals,
                                vocabulary, args.captions_per_image, args.templates,
                                args.min_score, args.match)
    if not pairs:
        raise SystemExit(f'no pairs mined ({stats}); nothing written')
    info = dict(description='OVSeg region-text pairs mined from captions by CLIP',
                captions=args.captions, proposals=args.proposals, vocab=args.vocab,
                captions_per_image=args.captions_per_image, min_score=args.min_score,
                match=args.match,
                config=args.config, **stats)
    write_region_pairs(args.out, images, pairs,
                       list(dict.fromkeys(p['text'] for p in pairs)), info)
    print(f'mined {len(pairs)} pairs from {len(images)} images to {args.out} ({stats})')


if __name__ == '__main__':
    sys.exit(main())
