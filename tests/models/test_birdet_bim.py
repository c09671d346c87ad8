"""BIRDet's BIM: zero-shot scene scores by hand, batches of different scenes, gradients only for
the context vectors (and a trainable scene CNN), the descriptor cache, the re-scoring formula."""
import pytest
import torch
import torch.nn.functional as F

from clipdense.clip import CLIPTokenizer
from clipdense.datasets.scene_labels import resolve_scene_vocabulary
from clipdense.models.layers.background_embedding import BaseBackgroundEmbedding
from clipdense.models.layers.bim import BackgroundInformationModelling, encode_with_context
from clipdense.models.text import CLIPTextEncoder

SCENES = ['meadow', 'beach', 'snow field', 'night sky', 'living room', 'forest']
EMBED, WIDTH, CONTEXT_LENGTH = 24, 32, 16


@pytest.fixture
def text_encoder():
    torch.manual_seed(0)
    encoder = CLIPTextEncoder(context_length=CONTEXT_LENGTH, transformer_width=WIDTH,
                              transformer_heads=2, transformer_layers=1, embed_dim=EMBED)
    return encoder.requires_grad_(False).eval()  # as the detector holds it: frozen


def make_bim(**kwargs):
    torch.manual_seed(1)
    options = dict(embed_dim=EMBED, context_width=WIDTH, scene_vocabulary=SCENES, top_k=3,
                   num_context=4, alpha=0.5)
    return BackgroundInformationModelling(**dict(options, **kwargs))


def descriptor_embeds_by_hand(text_encoder):
    ids = CLIPTokenizer(CONTEXT_LENGTH)([f'a photo of a {name}.' for name in SCENES])
    with torch.no_grad():
        return F.normalize(text_encoder(ids), dim=-1)


def images_like(descriptors, picks):
    """Image embeddings (B, E) equal to the descriptor ``picks[b]`` of each image (a random tiny
    text tower maps different names to similar directions, so no noise is added)."""
    return descriptors[list(picks)].clone()


def test_is_a_background_module_and_reads_the_places365_list():
    bim = BackgroundInformationModelling(embed_dim=EMBED, context_width=WIDTH)
    assert isinstance(bim, BaseBackgroundEmbedding) and bim.uses_image_embeds
    places = resolve_scene_vocabulary('places365')
    assert len(places) == 365 == len(set(places)) == len(bim.scene_vocabulary)
    assert places[0] == 'airfield' and places[15] == 'hockey arena' and places[-1] == 'zen garden'
    with pytest.raises(ValueError, match='more than once'):
        resolve_scene_vocabulary(['beach', 'beach'])
    with pytest.raises(FileNotFoundError, match='/no/such.txt'):
        resolve_scene_vocabulary('/no/such.txt')


def test_zero_shot_scene_scores_equal_a_hand_computation(text_encoder):
    bim = make_bim()
    image_embeds = F.normalize(torch.randn(2, EMBED, generator=torch.Generator().manual_seed(3)),
                               dim=-1)
    scores = bim.scene_scores(image_embeds, torch.zeros(2, 3, 8, 8), text_encoder)
    expected = 100.0 * image_embeds @ descriptor_embeds_by_hand(text_encoder).t()
    assert scores.shape == (2, len(SCENES))
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-4)


def test_batch_of_different_scenes_matches_per_image_hand_computation(text_encoder):
    bim = make_bim()
    image_embeds = images_like(descriptor_embeds_by_hand(text_encoder), [0, 1, 4])
    inputs = torch.zeros(3, 3, 8, 8)
    t_bg = bim(image_embeds, inputs, text_encoder)
    assert t_bg.shape == (3, EMBED)
    torch.testing.assert_close(t_bg.norm(dim=-1), torch.ones(3))
    # different scenes -> different top-1 descriptor and different backgrounds
    indices, weights = bim.top_descriptors(bim.scene_scores(image_embeds, inputs, text_encoder))
    assert indices[:, 0].tolist() == [0, 1, 4]
    assert weights.shape == (3, 3)
    torch.testing.assert_close(weights.sum(1), torch.ones(3))
    assert (t_bg[0] - t_bg[1]).abs().max() > 1e-3 and (t_bg[1] - t_bg[2]).abs().max() > 1e-3
    # by hand: softmax over the top-3 zero-shot logits, prompts "[SOT] ctx*4 name. [EOT]"
    tokenizer = CLIPTokenizer(CONTEXT_LENGTH - 4)
    logits = 100.0 * image_embeds @ descriptor_embeds_by_hand(text_encoder).t()
    for b in range(3):
        top = logits[b].topk(3)
        ids = tokenizer([f'{SCENES[i]}.' for i in top.indices.tolist()])
        x = torch.cat([text_encoder.token_embedding(ids[:, :1]),
                       bim.context.unsqueeze(0).expand(3, -1, -1),
                       text_encoder.token_embedding(ids[:, 1:])], dim=1)
        prompted = F.normalize(text_encoder.encode_embeddings(x, ids.argmax(-1) + 4), dim=-1)
        expected = F.normalize((top.values.softmax(0)[:, None] * prompted).sum(0), dim=-1)
        torch.testing.assert_close(t_bg[b], expected, rtol=1e-5, atol=1e-5)
        # and the batch result equals the single-image one
        torch.testing.assert_close(bim(image_embeds[b:b + 1], inputs[:1], text_encoder)[0],
                                   t_bg[b], rtol=1e-5, atol=1e-6)


def test_only_context_vectors_get_gradients_and_text_encoder_stays_frozen(text_encoder):
    bim = make_bim()
    before = {k: v.clone() for k, v in text_encoder.state_dict().items()}
    image_embeds = F.normalize(torch.randn(2, EMBED), dim=-1).requires_grad_(False)
    bim(image_embeds, torch.zeros(2, 3, 8, 8), text_encoder).pow(2).sum().backward()
    trainable = {name for name, p in bim.named_parameters() if p.requires_grad}
    assert trainable == {'context'}
    assert bim.context.grad is not None and bim.context.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in text_encoder.parameters())
    after = text_encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_scene_cnn_scorer_gets_gradients_only_when_trainable(text_encoder, tmp_path):
    network = dict(type='SceneCNN', num_classes=len(SCENES), channels=(4, 8), input_size=(16, 16))
    inputs = torch.randn(2, 3, 20, 24, generator=torch.Generator().manual_seed(5))
    for trainable in (False, True):
        bim = make_bim(scene_scorer=dict(type='SceneCNNScorer', network=network,
                                         trainable=trainable))
        assert not bim.uses_image_embeds
        bim.train()
        assert bim.scene_scorer.network.training is trainable  # frozen BN stays in eval mode
        bim(None, inputs, text_encoder).pow(2).sum().backward()
        cnn_grads = [p.grad for p in bim.scene_scorer.parameters()]
        if trainable:
            assert all(g is not None for g in cnn_grads) and bim.context.grad is not None
            assert sum(g.abs().sum() for g in cnn_grads) > 0
        else:
            assert all(g is None for g in cnn_grads) and bim.context.grad is not None
    with pytest.raises(ValueError, match='same list'):
        make_bim(scene_scorer=dict(type='SceneCNNScorer', network=dict(network, num_classes=5)))


def test_scene_cnn_scorer_loads_a_scene_classifier_checkpoint(tmp_path):
    from mmdet.registry import MODELS

    from clipdense.registry import build_in_own_scope
    network = dict(type='SceneCNN', num_classes=len(SCENES), channels=(4, 8), input_size=(16, 16))
    classifier = build_in_own_scope(MODELS, dict(type='SceneClassifier', network=network))
    checkpoint = tmp_path / 'scene.pth'
    torch.save({'state_dict': classifier.state_dict(), 'meta': {'epoch': 1}}, checkpoint)
    bim = make_bim(scene_scorer=dict(type='SceneCNNScorer', network=network,
                                     checkpoint=str(checkpoint)))
    bim.init_weights()
    for key, value in classifier.network.state_dict().items():
        assert torch.equal(bim.scene_scorer.network.state_dict()[key], value), key
    torch.save({'state_dict': {'other.weight': torch.zeros(1)}}, tmp_path / 'bad.pth')
    with pytest.raises(KeyError, match='does not match the scene network'):
        bim.scene_scorer.load_network(str(tmp_path / 'bad.pth'))


def test_descriptor_embeddings_are_cached_in_memory_and_on_disk(text_encoder, tmp_path):
    calls = []
    text_encoder.register_forward_hook(lambda module, args, output: calls.append(len(args[0])))
    bim = make_bim(cache_dir=str(tmp_path / 'cache'))
    image_embeds = F.normalize(torch.randn(2, EMBED), dim=-1)
    inputs = torch.zeros(2, 3, 8, 8)
    first = bim(image_embeds, inputs, text_encoder)
    assert calls == [len(SCENES)] and bim.cache.misses == 1
    second = bim(image_embeds, inputs, text_encoder)
    assert calls == [len(SCENES)] and torch.equal(first, second)  # memory cache
    fresh = make_bim(cache_dir=str(tmp_path / 'cache'))
    third = fresh(image_embeds, inputs, text_encoder)
    assert calls == [len(SCENES)] and fresh.cache.hits == 1  # disk cache: no text encoding
    torch.testing.assert_close(third, first)
    with torch.no_grad():  # new tower weights -> re-encoded, never stale
        text_encoder.text_projection.mul_(2)
    bim(image_embeds, inputs, text_encoder)
    assert calls == [len(SCENES), len(SCENES)]


def test_rescore_formula():
    bim = make_bim(alpha=0.4)
    scores = torch.tensor([[0.8, 0.1], [0.5, 0.5], [0.2, 0.9]])
    bg = torch.tensor([0.0, 0.5, 1.0])
    expected = torch.tensor([[0.8, 0.1], [0.5 * 0.8, 0.5 * 0.8], [0.2 * 0.6, 0.9 * 0.6]])
    torch.testing.assert_close(bim.rescore(scores, bg), expected)
    torch.testing.assert_close(make_bim(alpha=0.0).rescore(scores, bg), scores)
    with pytest.raises(ValueError, match='bg_probs'):
        bim.rescore(scores, torch.zeros(2))
    with pytest.raises(ValueError, match='alpha'):
        make_bim(alpha=1.5)


def test_context_width_and_token_budget_errors(text_encoder):
    bim = make_bim(context_width=WIDTH + 1)
    with pytest.raises(ValueError, match=f'context_width={WIDTH + 1}'):
        bim(F.normalize(torch.randn(1, EMBED), dim=-1), torch.zeros(1, 3, 8, 8), text_encoder)
    long_name = make_bim(scene_vocabulary=SCENES[:-1] + ['a very long and winding country '
                                                         'road between green hills and lakes'])
    from clipdense.clip import TokenBudgetError
    with pytest.raises(TokenBudgetError, match='winding'):
        long_name.prompt_token_ids(CONTEXT_LENGTH)


def test_encode_with_context_without_context_equals_the_plain_tower(text_encoder):
    ids = CLIPTokenizer(CONTEXT_LENGTH)(['a beach.', 'snow'])
    torch.testing.assert_close(encode_with_context(text_encoder, ids, torch.zeros(0, WIDTH)),
                               text_encoder(ids))
