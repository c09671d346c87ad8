import pytest
import torch
import torch.nn.functional as F

from clipdense.clip import (CLIPTokenizer, TextClassifierCache, TokenBudgetError,
                            build_text_classifier, get_templates, module_fingerprint,
                            parse_class_names, parse_vocabulary)


def test_template_sets():
    assert len(get_templates('imagenet80')) == 80
    assert len(get_templates('vild14')) == 14
    assert get_templates('single') == ['a photo of a {}.']
    assert all(t.count('{}') == 1 for t in get_templates('imagenet80'))
    with pytest.raises(ValueError, match='placeholder'):
        get_templates(['no placeholder'])
    with pytest.raises(ValueError, match='unknown template set'):
        get_templates('imagenet81')


def test_tokenizer_matches_open_clip_and_rejects_long_texts():
    import open_clip
    tokenizer = CLIPTokenizer()
    texts = ['a photo of a cat.', 'traffic light']
    assert torch.equal(tokenizer(texts), open_clip.tokenize(texts))
    ids = tokenizer('cat', context_length=5)
    assert ids.tolist() == [[tokenizer.sot_token_id, tokenizer.encode('cat')[0],
                             tokenizer.eot_token_id, 0, 0]]
    name = 'a very long and winding class name'
    count = len(tokenizer.encode(name)) + 2
    with pytest.raises(TokenBudgetError, match=f"'{name}' needs {count} tokens.*is 5"):
        tokenizer(name, context_length=5)
    truncated = tokenizer(name, context_length=5, truncate=True)
    assert truncated[0, -1].item() == tokenizer.eot_token_id


def test_vocabulary_parsing():
    assert parse_vocabulary('cat, dog; puppy ,grass') == [['cat'], ['dog', 'puppy'], ['grass']]
    assert parse_class_names(['person; man', ['car', 'auto']]) == [['person', 'man'],
                                                                   ['car', 'auto']]
    with pytest.raises(ValueError, match='empty'):
        parse_vocabulary(' , ')
    with pytest.raises(ValueError, match="class #1"):
        parse_class_names(['cat', ' ; '])


def test_duplicate_names_are_refused_by_name():
    """Repeated names tie (case and spacing aside, as the tokenizer sees them)."""
    with pytest.raises(ValueError, match=r"duplicate class names: 'red ball' \(classes #0, #2\)"):
        parse_vocabulary('red ball, dog, Red  Ball')
    with pytest.raises(ValueError, match=r"'puppy' \(classes #1, #1\)"):
        parse_class_names(['cat', 'puppy; dog; puppy'])


class CountingEncoder:
    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, ids):
        self.calls += 1
        return self.model.encode_text(ids)


def test_classifier_averages_normalised_prompts(tiny_rn_clip):
    encoder = CountingEncoder(tiny_rn_clip.eval())
    templates = ['a photo of a {}.', 'a drawing of a {}.']
    classifier = build_text_classifier(encoder, ['cat', 'dog; puppy'], templates,
                                       encoder_id='tiny')
    tokenizer = CLIPTokenizer()
    with torch.no_grad():
        def mean_prompt(names):
            prompts = [t.format(n) for n in names for t in templates]
            return F.normalize(F.normalize(tiny_rn_clip.encode_text(tokenizer(prompts)),
                                           dim=-1).mean(0), dim=0)
        expected = torch.stack([mean_prompt(['cat']), mean_prompt(['dog', 'puppy'])])
    assert classifier.shape == (2, 24)
    assert torch.allclose(classifier, expected, atol=1e-6)
    assert torch.allclose(classifier.norm(dim=-1), torch.ones(2))


def test_classifier_cache_hits_and_misses(tiny_rn_clip, tmp_path):
    encoder = CountingEncoder(tiny_rn_clip.eval())
    cache = TextClassifierCache(str(tmp_path / 'cache'))
    fingerprint = module_fingerprint(tiny_rn_clip.transformer)
    first = build_text_classifier(encoder, ['cat', 'dog'], 'vild14', encoder_id=fingerprint,
                                  cache=cache)
    calls = encoder.calls
    second = build_text_classifier(encoder, ['cat', 'dog'], 'vild14', encoder_id=fingerprint,
                                   cache=cache)
    assert torch.equal(first, second) and encoder.calls == calls
    assert (cache.hits, cache.misses) == (1, 1)
    build_text_classifier(encoder, ['cat', 'dog'], 'single', encoder_id=fingerprint, cache=cache)
    build_text_classifier(encoder, ['cat', 'bird'], 'vild14', encoder_id=fingerprint, cache=cache)
    assert (cache.hits, cache.misses) == (1, 3)
    with torch.no_grad():
        tiny_rn_clip.transformer.resblocks[0].mlp.c_fc.bias.add_(0.1)
    changed = module_fingerprint(tiny_rn_clip.transformer)
    assert changed != fingerprint
    build_text_classifier(encoder, ['cat', 'dog'], 'vild14', encoder_id=changed, cache=cache)
    assert cache.misses == 4
    assert len(list((tmp_path / 'cache').glob('*.pt'))) == 4
    assert not list((tmp_path / 'cache').glob('*.tmp*'))
