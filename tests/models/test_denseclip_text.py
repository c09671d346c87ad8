"""DenseCLIP text side: encoders reproduce CLIP from OpenAI weights, the token budget, the context
decoder, and the CLIPTextEncoder name shared with mmseg."""
import pytest
import torch

from clipdense.clip import CLIPTokenizer, TokenBudgetError, build_clip
from clipdense.models.text import (CLIPTextContextEncoder, CLIPTextEncoder, ContextDecoder,
                                   build_text_encoder)
from tests.conftest import TINY_RN
from tests.weight_files import save_torchscript_archive

TINY_TEXT = dict(vocab_size=49408, transformer_width=32, transformer_heads=2,
                 transformer_layers=1, embed_dim=24)


@pytest.fixture(scope='module')
def clip_and_archive(tmp_path_factory):
    torch.manual_seed(0)
    clip = build_clip(arch=TINY_RN, quick_gelu=True).eval()
    path = tmp_path_factory.mktemp('weights') / 'RN-tiny.pt'
    save_torchscript_archive(clip.state_dict(), path)
    return clip, str(path)


def test_text_encoder_reproduces_clip_encode_text(clip_and_archive):
    clip, path = clip_and_archive
    encoder = CLIPTextEncoder(context_length=77, pretrained=path, **TINY_TEXT)
    report = encoder.load_clip_weights(path)
    assert report.missing == [] and report.unexpected == []
    ids = CLIPTokenizer()(['a photo of a kite', 'grass', 'a tent on the grass'])
    with torch.no_grad():
        out = encoder.eval()(ids)
        expected = clip.encode_text(ids)
    assert out.shape == (3, 24)
    assert torch.allclose(out, expected, atol=1e-5)


def test_context_encoder_inserts_contexts_after_start_token(clip_and_archive):
    clip, path = clip_and_archive
    encoder = CLIPTextContextEncoder(context_length=13, pretrained=path, **TINY_TEXT)
    report = encoder.load_clip_weights(path)
    assert report.resized == [('positional_embedding', (77, 32), (13, 32))]
    names = CLIPTextContextEncoder.tokenize_class_names(['sky', 'grass', 'chest of drawers'], 5)
    assert names.shape == (3, 5)
    torch.manual_seed(1)
    contexts = torch.randn(2, 8, 32)
    with torch.no_grad():
        out = encoder.eval()(names, contexts)
        # Recomputed with open_clip's own modules: [SOT, ctx x 8, name, EOT, pad] -> 13 tokens.
        for b in range(2):
            emb = clip.token_embedding(names)
            seq = torch.cat([emb[:, :1], contexts[b].expand(3, -1, -1), emb[:, 1:]], dim=1)
            x = clip.transformer(seq + clip.positional_embedding[:13],
                                 attn_mask=clip.attn_mask[:13, :13])
            x = clip.ln_final(x)[torch.arange(3), names.argmax(-1) + 8] @ clip.text_projection
            assert torch.allclose(out[b], x, atol=1e-5)
    assert out.shape == (2, 3, 24)
    assert not torch.allclose(out[0], out[1])  # the contexts matter


def test_long_class_name_raises_naming_the_class_and_its_token_count():
    with pytest.raises(TokenBudgetError,
                       match=r"'chest of drawers and wardrobe' is 5 BPE tokens.*budget is 3"):
        CLIPTextContextEncoder.tokenize_class_names(['sky', 'chest of drawers and wardrobe'], 5)
    ids = CLIPTextContextEncoder.tokenize_class_names(['chest of drawers and wardrobe'], 7)
    assert ids.shape == (1, 7) and ids[0, 6] == CLIPTokenizer().eot_token_id
    encoder = CLIPTextContextEncoder(context_length=15, **TINY_TEXT)
    assert encoder(ids, torch.zeros(1, 8, 32)).shape == (1, 1, 24)  # 7 + 8 = 15
    with pytest.raises(ValueError, match='7 name tokens \\+ 6 context tokens != context_length'):
        encoder(ids, torch.zeros(1, 6, 32))


def test_context_decoder_shapes_and_initialisation():
    torch.manual_seed(0)
    decoder = ContextDecoder(transformer_width=32, transformer_heads=4, transformer_layers=3,
                             visual_dim=24, dropout=0.1).eval()
    linears = [m for m in decoder.modules() if isinstance(m, torch.nn.Linear)]
    assert all(0.01 < m.weight.std() < 0.03 for m in linears)
    assert all(m.bias is None or not m.bias.any() for m in linears)
    attn = decoder.decoder[0].self_attn
    assert attn.q_proj.bias is None and attn.k_proj.bias is None and attn.v_proj.bias is None
    text, visual = torch.randn(2, 6, 24), torch.randn(2, 1 + 12, 24)
    out = decoder(text, visual)
    assert out.shape == (2, 6, 24)
    # the update depends on each image's visual context
    assert not torch.allclose(decoder(text, visual.flip(0))[0], out[0])
    with pytest.raises(ValueError, match='outdim=16 must equal visual_dim=24'):
        ContextDecoder(visual_dim=24, outdim=16)


def test_clip_text_encoder_name_is_not_taken_from_mmseg_san():
    from mmseg.models.text_encoder import CLIPTextEncoder as SANTextEncoder
    from mmseg.registry import MODELS
    assert MODELS.get('CLIPTextEncoder') is SANTextEncoder  # SAN configs unaffected
    built = build_text_encoder(dict(type='CLIPTextEncoder', context_length=8, **TINY_TEXT))
    assert type(built) is CLIPTextEncoder
    assert MODELS.get('CLIPTextContextEncoder') is CLIPTextContextEncoder
    with pytest.raises(KeyError, match="'NoSuchEncoder' is not registered"):
        build_text_encoder(dict(type='NoSuchEncoder'))
