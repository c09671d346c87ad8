"""tools/infer.py and the Predictor on inputs that must be refused early or handled right: truncated
and 16-bit images, vocabulary files, option values, output paths, config class names, checkpoints
without dataset_meta, models that need trained weights."""
import os

import cv2
import numpy as np
import pytest
import torch

from clipdense.apis.inference import Predictor, load_rgb_image, read_vocabulary
from clipdense.apis.trained_weights import TrainedWeightsError
from tests.tools.helpers import ROOT, SEG_CONFIG, run_tool, seg_data_options
from tools import infer

ZERO_SHOT = os.path.join(ROOT, 'configs', 'clip_dinoiser',
                         'clip-dinoiser_vit-tiny_1xb1-zero-shot_toy-ade-96x128.py')
TOY_CLASSES = ['sky', 'grass', 'ball', 'box', 'tent', 'kite']


def _val_image(toy_ade_root):
    return os.path.join(toy_ade_root, 'images', 'validation', 'toy_val_000000.jpg')


def test_truncated_jpeg_is_refused_before_any_output(toy_ade_root, tmp_path):
    payload = open(_val_image(toy_ade_root), 'rb').read()
    truncated = tmp_path / 'truncated.jpg'
    truncated.write_bytes(payload[:len(payload) // 2])
    out_dir = tmp_path / 'out'
    with pytest.raises(ValueError, match=r'unreadable images: .*truncated\.jpg'):
        infer.main([ZERO_SHOT, _val_image(toy_ade_root), str(truncated), '--texts', 'sky, grass',
                    '--out-dir', str(out_dir)])
    assert not out_dir.exists()


def test_sixteen_bit_grayscale_is_drawn_as_the_model_sees_it(tmp_path):
    gray = (np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)
    path = tmp_path / 'gray16.png'
    cv2.imwrite(str(path), gray)
    rgb = load_rgb_image(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (48, 64, 3)
    np.testing.assert_array_equal(rgb[..., 0], (gray >> 8).astype(np.uint8))
    np.testing.assert_array_equal(rgb, cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1])
    summary = infer.main([ZERO_SHOT, str(path), '--texts', 'sky, grass', '--opacity', '0',
                          '--out-dir', str(tmp_path / 'out')])
    overlay = cv2.imread(summary['images'][0]['overlay'])[..., ::-1]
    np.testing.assert_array_equal(overlay[:48, :64], rgb)  # opacity 0: the image itself


def test_vocabulary_files_bom_latin1_duplicates(tmp_path):
    bom = tmp_path / 'bom.txt'
    bom.write_bytes('\ufeffsky\ngrass; lawn\n'.encode('utf-8'))
    assert read_vocabulary(vocab_file=str(bom)) == [['sky'], ['grass', 'lawn']]
    latin1 = tmp_path / 'latin1.txt'
    latin1.write_bytes('sky\ncaf\u00e9\n'.encode('latin-1'))
    with pytest.raises(ValueError, match=r'latin1\.txt, line 2: not UTF-8 text \(byte 0xe9\)'):
        read_vocabulary(vocab_file=str(latin1))
    with pytest.raises(ValueError, match=r"duplicate class names: 'cat' \(classes #0, #2\)"):
        read_vocabulary(texts='cat, dog, Cat')
    with pytest.raises(ValueError, match=r"'puppy' \(classes #0, #1\)"):
        read_vocabulary(texts='dog; puppy, puppy')


def test_bad_options_and_output_folder_fail_before_the_model_is_built(toy_ade_root, tmp_path):
    image = _val_image(toy_ade_root)
    absent = str(tmp_path / 'absent.pth')  # would fail when the model is built
    with pytest.raises(ValueError, match=r'--opacity must be in \[0, 1\], got 1.5'):
        infer.main([SEG_CONFIG, image, '--checkpoint', absent, '--opacity', '1.5',
                    '--out-dir', str(tmp_path / 'out')])
    a_file = tmp_path / 'a_file'
    a_file.write_text('x')
    with pytest.raises(NotADirectoryError, match='--out-dir .*a_file exists and is not a folder'):
        infer.main([SEG_CONFIG, image, '--checkpoint', absent, '--out-dir', str(a_file)])
    with pytest.raises(NotADirectoryError, match=r'cannot be created: .*a_file is a file'):
        infer.main([SEG_CONFIG, image, '--checkpoint', absent,
                    '--out-dir', str(a_file / 'sub')])


def test_predictor_does_not_depend_on_the_global_random_state():
    """Randomly initialised parts (toy configs) are built under the config's seed."""
    models, draws = [], []
    for seed in (1, 2):
        torch.manual_seed(seed)
        models.append(Predictor(ZERO_SHOT, vocabulary=[['sky'], ['grass']]).model.state_dict())
        draws.append(torch.rand(1))
    assert all(torch.equal(value, models[1][key]) for key, value in models[0].items())
    for seed, draw in zip((1, 2), draws):  # and the caller's random stream is left alone
        torch.manual_seed(seed)
        assert torch.equal(torch.rand(1), draw)


def test_config_class_names_come_from_the_scope_registry():
    """Zero-shot configs without a vocabulary use their dataset's classes (mmseg registry)."""
    predictor = Predictor(ZERO_SHOT)
    assert predictor.class_names == TOY_CLASSES
    assert predictor.model.vocabulary == [[name] for name in TOY_CLASSES]


@pytest.fixture(scope='module')
def fpn_checkpoint(toy_ade_root, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('fpn_infer')
    run_tool(['tools/train.py', SEG_CONFIG, '--work-dir', str(work_dir), '--cfg-options',
              *seg_data_options(toy_ade_root, 1)])
    return str(work_dir / 'iter_1.pth')


def test_checkpoint_without_dataset_meta_accepts_its_classes(fpn_checkpoint, toy_ade_root,
                                                             tmp_path):
    """The released DenseCLIP format: a bare state dict, no meta; the config names the
    classes."""
    from clipdense.utils import load_checkpoint_file
    bare = tmp_path / 'bare.pth'
    torch.save({'state_dict': load_checkpoint_file(fpn_checkpoint)['state_dict']}, bare)
    summary = infer.main([os.path.join(ROOT, SEG_CONFIG), _val_image(toy_ade_root),
                          '--checkpoint', str(bare), '--texts', 'grass, Sky',
                          '--out-dir', str(tmp_path / 'out')])
    assert summary['classes'] == ['grass', 'sky']


def test_models_needing_trained_weights_refuse_to_run_without(tmp_path):
    with pytest.raises(TrainedWeightsError, match='fpn_clip.*needs trained weights'):
        Predictor(os.path.join(ROOT, SEG_CONFIG))
    junk = tmp_path / 'junk.pth'
    torch.save({'state_dict': {'backbone.conv1.weight': torch.zeros(1)}}, junk)
    with pytest.raises(TrainedWeightsError,
                       match=r'junk\.pth does not fit.*missing keys.*shape mismatches '
                             r'\(1: backbone\.conv1\.weight \(1,\) vs model'):
        Predictor(os.path.join(ROOT, SEG_CONFIG), str(junk))
