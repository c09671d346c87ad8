"""CLIP-DINOiser's light layers: pooling formula, background rule, checkpoint format."""
import pytest
import torch
import torch.nn.functional as F


def test_pooling_equals_formula_on_hand_made_correlation():
    from clipdense.models.heads.dinoiser_head import correlation_pooling
    # 2x2 grid (4 patches), 2 feature channels; correlations below 0.2 must be ignored.
    dense = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]],
                           [[0.0, 10.0], [20.0, -5.0]]]])
    corr = torch.tensor([[[1.0, 0.5, 0.1, -0.3],
                          [0.5, 1.0, 0.2, 0.19],
                          [0.1, 0.2, 1.0, 0.0],
                          [-0.3, 0.19, 0.0, 1.0]]])
    pooled = correlation_pooling(dense, corr, threshold=0.2, eps=1e-6)
    flat = dense.flatten(2)[0]  # (2, 4): patch m's features in column m
    expected = torch.stack([
        (1.0 * flat[:, 0] + 0.5 * flat[:, 1]) / (1.5 + 1e-6),
        (0.5 * flat[:, 0] + 1.0 * flat[:, 1] + 0.2 * flat[:, 2]) / (1.7 + 1e-6),
        (0.2 * flat[:, 1] + 1.0 * flat[:, 2]) / (1.2 + 1e-6),
        flat[:, 3] / (1.0 + 1e-6),
    ], dim=1).reshape(1, 2, 2, 2)
    torch.testing.assert_close(pooled, expected)
    # patch 0: (1*[1,0] + 0.5*[2,10]) / 1.5 = [4/3, 10/3]
    torch.testing.assert_close(pooled[0, :, 0, 0], torch.tensor([4 / 3, 10 / 3]), atol=1e-5,
                               rtol=0)


def test_background_rule_on_constructed_inputs():
    from clipdense.models.heads.dinoiser_head import apply_background_rule
    # one image, classes [background, cat, dog], 1x4 locations:
    #   0: salient, uncertain      -> unchanged
    #   1: not salient, uncertain  -> p[background] = 1
    #   2: not salient, confident  -> unchanged
    #   3: salient, confident      -> unchanged
    probs = torch.tensor([[[0.2, 0.3, 0.005, 0.001],
                           [0.5, 0.4, 0.995, 0.0],
                           [0.3, 0.3, 0.0, 0.999]]]).reshape(1, 3, 1, 4)
    logits = torch.tensor([2.0, -1.0, -3.0, 0.5]).reshape(1, 1, 1, 4)
    out = apply_background_rule(probs, logits, background_index=0)
    expected = probs.clone()
    expected[0, 0, 0, 1] = 1.0
    torch.testing.assert_close(out, expected)
    assert out.argmax(1).flatten().tolist() == [1, 0, 1, 2]
    # a second image with the opposite saliency: the rule acts per image
    batch = apply_background_rule(torch.cat([probs, probs]), torch.cat([logits, -logits]), 0)
    torch.testing.assert_close(batch[0], expected[0])
    assert batch[1, 0, 0].tolist() == pytest.approx([1.0, 0.3, 0.005, 0.001])
    with pytest.raises(ValueError, match='differ in batch or grid'):
        apply_background_rule(probs, logits[..., :2], 0)


def test_head_batch_of_two_equals_two_batches_of_one():
    from clipdense.models.heads import DINOiserHead
    torch.manual_seed(0)
    head = DINOiserHead(in_channels=8, proj_channels=4)
    dense, feats = torch.randn(2, 6, 3, 5), torch.randn(2, 8, 3, 5)
    both = head(dense, feats)
    for i in range(2):
        single = head(dense[i:i + 1], feats[i:i + 1])
        for key in ('dense', 'saliency_logits'):
            torch.testing.assert_close(both[key][i:i + 1], single[key])


def test_obj_proj_pads_by_replication_and_decoder_sees_normalised_features():
    from clipdense.models.heads import DINOiserHead
    torch.manual_seed(0)
    head = DINOiserHead(in_channels=8, proj_channels=4)
    feats = torch.randn(1, 8, 3, 4)
    projected = F.conv2d(F.pad(feats, (1, 1, 1, 1), mode='replicate'), head.obj_proj.weight,
                         head.obj_proj.bias)
    flat = F.normalize(projected.flatten(2), dim=1)[0]
    torch.testing.assert_close(head.correlation(feats)[0], flat.T @ flat)
    torch.testing.assert_close(head.saliency_logits(feats), head.saliency_logits(feats * 7.0))


def _released_checkpoint(path, in_channels=8, proj_channels=4):
    torch.manual_seed(3)
    state = {'obj_proj.weight': torch.randn(proj_channels, in_channels, 3, 3),
             'obj_proj.bias': torch.randn(proj_channels),
             'bkg_decoder.weight': torch.randn(1, in_channels, 1, 1),
             'bkg_decoder.bias': torch.randn(1)}
    torch.save({'epoch': 99, 'model_state_dict': state}, str(path))
    return state


def test_released_checkpoint_format_loads(tmp_path):
    from clipdense.models.heads import DINOiserHead
    state = _released_checkpoint(tmp_path / 'clip_dinoiser_last.pt')
    head = DINOiserHead(in_channels=8, proj_channels=4,
                        checkpoint=str(tmp_path / 'clip_dinoiser_last.pt'))
    head.init_weights()  # must not re-initialise loaded weights
    for key, value in state.items():
        torch.testing.assert_close(head.state_dict()[key], value)
    with pytest.raises(FileNotFoundError, match=r"missing\.pt'\. Put the released checkpoint"):
        DINOiserHead(in_channels=8, proj_channels=4, checkpoint=str(tmp_path / 'missing.pt'))
    with pytest.raises(RuntimeError, match='size mismatch'):
        DINOiserHead(in_channels=16, proj_channels=4,
                     checkpoint=str(tmp_path / 'clip_dinoiser_last.pt'))
