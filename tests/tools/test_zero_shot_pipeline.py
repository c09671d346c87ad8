"""CLIP-DINOiser through the tools on toy data: train the light layers, evaluate, infer."""
import json
import os

import cv2
import numpy as np
import pytest
import torch

from tests.tools.helpers import ROOT, last_metric, run_tool

EVAL_CONFIG = 'configs/clip_dinoiser/clip-dinoiser_vit-tiny_1xb1-zero-shot_toy-ade-96x128.py'
TRAIN_CONFIG = 'configs/clip_dinoiser/clip-dinoiser_vit-tiny_1xb4-8i_toy-ade-64x64.py'
LIGHT_KEYS = {'decode_head.obj_proj.weight', 'decode_head.obj_proj.bias',
              'decode_head.bkg_decoder.weight', 'decode_head.bkg_decoder.bias'}


def _eval_options(data_root):
    return [f'test_dataloader.dataset.data_root={data_root}', 'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False']


@pytest.fixture(scope='module')
def trained(toy_ade_root, tmp_path_factory):
    """Eight light-layer iterations with tiny random teachers; returns the work dir."""
    work_dir = tmp_path_factory.mktemp('dinoiser_train')
    run_tool(['tools/train.py', TRAIN_CONFIG, '--work-dir', str(work_dir), '--cfg-options',
              f'train_dataloader.dataset.data_root={toy_ade_root}'])
    return work_dir


@pytest.fixture(scope='module')
def released_checkpoint(trained):
    """The trained light layers re-saved in the original release's format."""
    state = torch.load(str(trained / 'iter_8.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    path = trained / 'released_format.pt'
    torch.save({'epoch': 100, 'model_state_dict': {
        k[len('decode_head.'):]: v for k, v in state.items()}}, str(path))
    return str(path)


def test_training_updates_only_light_layers_with_their_learning_rates(trained):
    checkpoint = torch.load(str(trained / 'iter_8.pth'), map_location='cpu', weights_only=False)
    assert set(checkpoint['state_dict']) == LIGHT_KEYS  # CLIP and teachers stay out
    lrs = sorted({group['lr'] for group in checkpoint['optimizer']['param_groups']})
    assert lrs == pytest.approx([5e-6, 1e-3])  # 5e-5 and 1e-2 after the x0.1 step at iter 6
    log = (next(trained.glob('*/*.log'))).read_text()
    assert 'loss_correlation' in log and 'loss_saliency' in log


def test_zero_shot_evaluation_through_tools_test(trained, toy_ade_root):
    result = run_tool(['tools/test.py', EVAL_CONFIG, str(trained / 'iter_8.pth'),
                       '--work-dir', str(trained / 'eval'), '--cfg-options',
                       *_eval_options(toy_ade_root)])
    output = result.stdout + result.stderr
    assert 'zero-shot vocabulary from the dataset: 6 classes' in output
    assert 'do not match exactly' not in output  # checkpoint = light layers only, no warnings
    assert 0.0 <= last_metric(output, 'mIoU') <= 100.0
    assert last_metric(output, 'aAcc') > 0.0


def test_infer_any_words_with_probabilities_and_background_threshold(released_checkpoint,
                                                                     toy_ade_root, tmp_path):
    from tools import infer
    images = os.path.join(toy_ade_root, 'images', 'validation')
    summary = infer.main([os.path.join(ROOT, EVAL_CONFIG), images, '--checkpoint',
                          released_checkpoint, '--texts', 'background, red ball; sphere, tent',
                          '--probs', '--bg-threshold', '0.5', '--out-dir', str(tmp_path)])
    assert summary['classes'] == ['background', 'red ball', 'tent']
    assert len(summary['images']) == 4
    for entry in summary['images']:
        image = cv2.imread(entry['image'])
        labels = cv2.imread(entry['labels'], cv2.IMREAD_UNCHANGED)
        assert labels.shape == image.shape[:2] and labels.max() <= 2
        saved = np.load(entry['probs'])
        assert saved['probs'].shape == (3, *image.shape[:2])
        assert saved['classes'].tolist() == summary['classes']
        probs = saved['probs'].astype(np.float32)
        np.testing.assert_array_equal(labels, probs.argmax(0))
        assert (probs.max(0) >= 0.5 - 1e-3).all()  # below the threshold became background
        overlay = cv2.imread(entry['overlay'])
        assert overlay.shape[1] > image.shape[1]  # legend attached
    assert json.loads((tmp_path / 'results.json').read_text()) == summary


def test_infer_errors_name_the_problem(toy_ade_root, tmp_path):
    from mmengine.config import Config

    from clipdense.apis.inference import Predictor
    from tools import infer
    config = os.path.join(ROOT, EVAL_CONFIG)
    image = os.path.join(toy_ade_root, 'images', 'validation', 'toy_val_000000.jpg')
    with pytest.raises(ValueError, match='vocabulary given with --texts is empty'):
        infer.main([config, image, '--texts', ' , ;', '--out-dir', str(tmp_path)])
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not a jpeg')
    with pytest.raises(ValueError, match='unreadable images: .*broken.jpg'):
        infer.main([config, str(broken), '--texts', 'cat', '--out-dir', str(tmp_path)])
    with pytest.raises(ValueError, match='needs a "background" class'):
        infer.main([config, image, '--texts', 'cat, dog', '--bg-threshold', '0.4',
                    '--out-dir', str(tmp_path / 'bg')])
    cfg = Config.fromfile(config)
    cfg.model.decode_head.checkpoint = 'pretrained/absent_light_layers.pt'
    with pytest.raises(FileNotFoundError,
                       match=r"'pretrained/absent_light_layers\.pt'\. Put the released"):
        Predictor(cfg, vocabulary=[['cat']])
    assert not (tmp_path / 'bg').exists()


def test_zero_shot_evaluation_without_a_checkpoint(toy_ade_root, tmp_path):
    """All weights from the config (random light layers here): no checkpoint argument needed."""
    result = run_tool(['tools/test.py', EVAL_CONFIG, '--work-dir', str(tmp_path),
                       '--cfg-options', *_eval_options(toy_ade_root)])
    output = result.stdout + result.stderr
    assert 'Load checkpoint' not in output
    assert 0.0 <= last_metric(output, 'mIoU') <= 100.0


def test_a_training_checkpoint_as_the_light_layer_file(trained):
    """decode_head.checkpoint may name clipdense's own training checkpoint (training state
    included): its light layers are loaded."""
    from mmengine.config import Config

    from clipdense.apis.inference import Predictor
    from clipdense.utils import load_checkpoint_file
    cfg = Config.fromfile(os.path.join(ROOT, EVAL_CONFIG))
    cfg.model.decode_head.checkpoint = str(trained / 'iter_8.pth')
    head = Predictor(cfg, vocabulary=[['sky'], ['grass']]).model.decode_head
    state = load_checkpoint_file(str(trained / 'iter_8.pth'))['state_dict']
    for key in LIGHT_KEYS:
        assert torch.equal(head.state_dict()[key[len('decode_head.'):]], state[key]), key
