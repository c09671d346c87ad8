"""tools/infer.py on a trained toy segmentor: outputs, vocabulary restriction, bad input."""
import importlib.util
import json
import os

import cv2
import numpy as np
import pytest

from tests.tools.helpers import ROOT, SEG_CONFIG, run_tool, seg_data_options


def _infer_module():
    spec = importlib.util.spec_from_file_location('infer_tool', os.path.join(ROOT, 'tools',
                                                                             'infer.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def checkpoint(toy_ade_root, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('infer_work')
    run_tool(['tools/train.py', SEG_CONFIG, '--work-dir', str(work_dir), '--cfg-options',
              *seg_data_options(toy_ade_root, 2)])
    return str(work_dir / 'iter_2.pth')


def test_segmentation_outputs(checkpoint, toy_ade_root, tmp_path):
    infer = _infer_module()
    images = os.path.join(toy_ade_root, 'images', 'validation')
    summary = infer.main([os.path.join(ROOT, SEG_CONFIG), images, '--checkpoint', checkpoint,
                          '--out-dir', str(tmp_path)])
    assert summary['classes'] == ['sky', 'grass', 'ball', 'box', 'tent', 'kite']
    assert len(summary['images']) == 4
    for entry in summary['images']:
        labels = cv2.imread(entry['labels'], cv2.IMREAD_UNCHANGED)
        image = cv2.imread(entry['image'])
        assert labels.dtype == np.uint8 and labels.shape == image.shape[:2]
        assert labels.max() < 6
        overlay = cv2.imread(entry['overlay'])
        assert overlay.shape[0] >= image.shape[0] and overlay.shape[1] > image.shape[1]
        assert abs(sum(entry['pixel_fraction'].values()) - 1) < 1e-3
    assert json.loads((tmp_path / 'results.json').read_text()) == summary


def test_vocabulary_restricts_a_closed_set_model(checkpoint, toy_ade_root, tmp_path):
    infer = _infer_module()
    image = os.path.join(toy_ade_root, 'images', 'validation', 'toy_val_000000.jpg')
    summary = infer.main([os.path.join(ROOT, SEG_CONFIG), image, '--checkpoint', checkpoint,
                          '--out-dir', str(tmp_path), '--texts', 'grass; lawn, Sky'])
    assert summary['classes'] == ['grass', 'sky']
    labels = cv2.imread(summary['images'][0]['labels'], cv2.IMREAD_UNCHANGED)
    assert set(np.unique(labels)) <= {0, 1}


def test_bad_input_errors_and_no_partial_output(checkpoint, toy_ade_root, tmp_path):
    infer = _infer_module()
    config = os.path.join(ROOT, SEG_CONFIG)
    images = os.path.join(toy_ade_root, 'images', 'validation')
    out_dir = tmp_path / 'out'
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not an image')
    with pytest.raises(ValueError, match='unreadable images: .*broken.jpg'):
        infer.main([config, images, str(broken), '--checkpoint', checkpoint,
                    '--out-dir', str(out_dir)])
    with pytest.raises(ValueError, match='vocabulary given with --texts is empty'):
        infer.main([config, images, '--checkpoint', checkpoint, '--texts', ' , ',
                    '--out-dir', str(out_dir)])
    with pytest.raises(ValueError, match="class 'cat' is not one of"):
        infer.main([config, images, '--checkpoint', checkpoint, '--texts', 'cat',
                    '--out-dir', str(out_dir)])
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        infer.main([config, images, '--checkpoint', str(tmp_path / 'none.pth'),
                    '--out-dir', str(out_dir)])
    with pytest.raises(FileNotFoundError, match='does not exist'):
        infer.main([config, str(tmp_path / 'missing.png'), '--out-dir', str(out_dir)])
    empty_vocab = tmp_path / 'vocab.txt'
    empty_vocab.write_text('# only a comment\n')
    with pytest.raises(ValueError, match='vocab.txt is empty'):
        infer.main([config, images, '--vocab', str(empty_vocab), '--out-dir', str(out_dir)])
    assert not out_dir.exists()
