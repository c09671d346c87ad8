"""tools/model_converters/ovseg.py on synthetic checkpoints in the released detectron2 layout:
both model pairs load strictly into the configs' models, and the converted MaskFormer head
computes what the original's head computes on the same weights."""
import importlib.util
import os
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import ROOT

R101C_CONFIG = 'configs/ovseg/ovseg_r101c-vit-b16_1xb1-test_ade20k-512x512.py'
SWIN_CONFIG = 'configs/ovseg/ovseg_swin-b-vit-l14_1xb1-test_ade20k-640x640.py'
TINY_CLIP = dict(embed_dim=16, vision_cfg=dict(layers=3, width=32, patch_size=16, image_size=32,
                                               head_width=16),
                 text_cfg=dict(context_length=77, vocab_size=49408, width=16, heads=2, layers=1))


def _converter():
    path = os.path.join(ROOT, 'tools', 'model_converters', 'ovseg.py')
    spec = importlib.util.spec_from_file_location('ovseg_converter', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------- the original's key layout, written from its code
def _conv_norm(sd, name, out_ch, in_ch, kernel, gen):
    sd[f'{name}.weight'] = torch.randn(out_ch, in_ch, kernel, kernel, generator=gen) * 0.05
    for param in ('weight', 'bias', 'running_mean', 'running_var'):
        sd[f'{name}.norm.{param}'] = torch.rand(out_ch, generator=gen) + 0.5


def d2_deeplab_resnet(gen, blocks=(3, 4, 23, 3), stem=128):
    """detectron2's DeepLab ResNet (R101c): 3-conv stem, bottlenecks with ``shortcut``."""
    sd = {}
    _conv_norm(sd, 'stem.conv1', stem // 2, 3, 3, gen)
    _conv_norm(sd, 'stem.conv2', stem // 2, stem // 2, 3, gen)
    _conv_norm(sd, 'stem.conv3', stem, stem // 2, 3, gen)
    in_ch = stem
    for stage, count in enumerate(blocks):
        width, out_ch = 64 * 2 ** stage, 256 * 2 ** stage
        for block in range(count):
            prefix = f'res{stage + 2}.{block}'
            if block == 0:
                _conv_norm(sd, f'{prefix}.shortcut', out_ch, in_ch, 1, gen)
            _conv_norm(sd, f'{prefix}.conv1', width, in_ch if block == 0 else out_ch, 1, gen)
            _conv_norm(sd, f'{prefix}.conv2', width, width, 3, gen)
            _conv_norm(sd, f'{prefix}.conv3', out_ch, width, 1, gen)
        in_ch = out_ch
    return sd


def d2_swin(gen, embed=128, depths=(2, 2, 18, 2), heads=(4, 8, 16, 32), window=12):
    """D2SwinTransformer (the official Swin code with ``norm0..3`` output norms)."""
    rand = lambda *shape: torch.randn(*shape, generator=gen) * 0.05  # noqa: E731
    sd = {'patch_embed.proj.weight': rand(embed, 3, 4, 4), 'patch_embed.proj.bias': rand(embed),
          'patch_embed.norm.weight': rand(embed), 'patch_embed.norm.bias': rand(embed)}
    for stage, (depth, num_heads) in enumerate(zip(depths, heads)):
        ch = embed * 2 ** stage
        for block in range(depth):
            p = f'layers.{stage}.blocks.{block}'
            sd.update({f'{p}.norm1.weight': rand(ch), f'{p}.norm1.bias': rand(ch),
                       f'{p}.attn.relative_position_bias_table':
                           rand((2 * window - 1) ** 2, num_heads),
                       f'{p}.attn.relative_position_index':
                           torch.zeros(window ** 2, window ** 2, dtype=torch.long),
                       f'{p}.attn.qkv.weight': rand(3 * ch, ch), f'{p}.attn.qkv.bias': rand(3 * ch),
                       f'{p}.attn.proj.weight': rand(ch, ch), f'{p}.attn.proj.bias': rand(ch),
                       f'{p}.norm2.weight': rand(ch), f'{p}.norm2.bias': rand(ch),
                       f'{p}.mlp.fc1.weight': rand(4 * ch, ch), f'{p}.mlp.fc1.bias': rand(4 * ch),
                       f'{p}.mlp.fc2.weight': rand(ch, 4 * ch), f'{p}.mlp.fc2.bias': rand(ch)})
        if stage < len(depths) - 1:
            sd[f'layers.{stage}.downsample.reduction.weight'] = rand(2 * ch, 4 * ch)
            sd[f'layers.{stage}.downsample.norm.weight'] = rand(4 * ch)
            sd[f'layers.{stage}.downsample.norm.bias'] = rand(4 * ch)
        sd[f'norm{stage}.weight'], sd[f'norm{stage}.bias'] = rand(ch), rand(ch)
    return sd


def d2_head(gen, in_channels, embed_dims, hidden=256, queries=100, layers=6, ffn=2048,
            class_hidden=1024):
    """OpenVocabMaskFormerHead: BasePixelDecoder (GN) + OpenVocabTransformerPredictor."""
    rand = lambda *shape: torch.randn(*shape, generator=gen) * 0.1  # noqa: E731
    sd = {}
    for index, channels in enumerate(in_channels):
        if index < len(in_channels) - 1:
            sd[f'pixel_decoder.adapter_{index + 1}.weight'] = rand(hidden, channels, 1, 1)
            sd[f'pixel_decoder.adapter_{index + 1}.norm.weight'] = 1 + rand(hidden)
            sd[f'pixel_decoder.adapter_{index + 1}.norm.bias'] = rand(hidden)
            sd[f'pixel_decoder.layer_{index + 1}.weight'] = rand(hidden, hidden, 3, 3)
        else:
            sd[f'pixel_decoder.layer_{index + 1}.weight'] = rand(hidden, channels, 3, 3)
        sd[f'pixel_decoder.layer_{index + 1}.norm.weight'] = 1 + rand(hidden)
        sd[f'pixel_decoder.layer_{index + 1}.norm.bias'] = rand(hidden)
    sd['pixel_decoder.mask_features.weight'] = rand(hidden, hidden, 3, 3)
    sd['pixel_decoder.mask_features.bias'] = rand(hidden)
    p = 'predictor.'
    sd[p + 'query_embed.weight'] = rand(queries, hidden)
    sd[p + 'input_proj.weight'] = rand(hidden, in_channels[-1], 1, 1)
    sd[p + 'input_proj.bias'] = rand(hidden)
    for layer in range(layers):
        q = f'{p}transformer.decoder.layers.{layer}.'
        for attn in ('self_attn', 'multihead_attn'):
            sd[q + f'{attn}.in_proj_weight'] = rand(3 * hidden, hidden)
            sd[q + f'{attn}.in_proj_bias'] = rand(3 * hidden)
            sd[q + f'{attn}.out_proj.weight'] = rand(hidden, hidden)
            sd[q + f'{attn}.out_proj.bias'] = rand(hidden)
        sd[q + 'linear1.weight'], sd[q + 'linear1.bias'] = rand(ffn, hidden), rand(ffn)
        sd[q + 'linear2.weight'], sd[q + 'linear2.bias'] = rand(hidden, ffn), rand(hidden)
        for norm in ('norm1', 'norm2', 'norm3'):
            sd[q + f'{norm}.weight'], sd[q + f'{norm}.bias'] = 1 + rand(hidden), rand(hidden)
    sd[p + 'transformer.decoder.norm.weight'] = 1 + rand(hidden)
    sd[p + 'transformer.decoder.norm.bias'] = rand(hidden)
    for layer in range(3):
        sd[p + f'mask_embed.layers.{layer}.weight'] = rand(hidden, hidden)
        sd[p + f'mask_embed.layers.{layer}.bias'] = rand(hidden)
    sd[p + 'class_embed.layers.0.weight'] = rand(class_hidden, hidden)
    sd[p + 'class_embed.layers.0.bias'] = rand(class_hidden)
    sd[p + 'class_embed.layers.1.weight'] = rand(embed_dims, class_hidden)
    sd[p + 'class_embed.layers.1.bias'] = rand(embed_dims)
    return sd


def ovseg_checkpoint(backbone, head, embed_dims, gen, clip_state=None):
    """A released checkpoint's ``model`` dict: backbone, sem_seg_head, clip_adapter (+ the
    buffers the converter drops)."""
    model = {f'backbone.{k}': v for k, v in backbone.items()}
    model.update({f'sem_seg_head.{k}': v for k, v in head.items()})
    model['clip_adapter.non_object_embedding'] = torch.randn(1, embed_dims, generator=gen)
    model['clip_adapter.pixel_mean'] = torch.ones(1, 3, 1, 1)
    model['clip_adapter.pixel_std'] = torch.ones(1, 3, 1, 1)
    model['criterion.empty_weight'] = torch.ones(172)
    for key, value in (clip_state or {}).items():
        model[f'clip_adapter.clip_model.{key}'] = value
    return dict(model=model, iteration=120000, __author__='synthetic')


def _tiny_openai_clip(gen):
    """A tiny CLIP in OpenAI naming with OVSeg's ``visual.mask_embedding``."""
    from clipdense.clip import build_clip
    torch.manual_seed(0)
    state = build_clip(arch=TINY_CLIP).state_dict()
    state['visual.mask_embedding'] = torch.randn(3, 4, 32, generator=gen)
    return state


def _build(config, clip_pretrained=None):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    import clipdense  # noqa: F401
    init_default_scope('mmseg')
    cfg = Config.fromfile(os.path.join(ROOT, config))
    cfg.model.clip_classifier.clip = dict(arch=TINY_CLIP, pretrained=clip_pretrained,
                                          mask_prompt_depth=3)
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('pair', ['r101c_vit-b16', 'swin-b_vit-l14'])
def test_released_layout_loads_strictly_for_both_model_pairs(pair, tmp_path):
    converter = _converter()
    gen = torch.Generator().manual_seed(0)
    if pair == 'r101c_vit-b16':
        backbone, in_channels, embed_dims, config = (d2_deeplab_resnet(gen), [256, 512, 1024, 2048],
                                                     512, R101C_CONFIG)
    else:
        backbone, in_channels, embed_dims, config = (d2_swin(gen), [128, 256, 512, 1024], 768,
                                                     SWIN_CONFIG)
    source = ovseg_checkpoint(backbone, d2_head(gen, in_channels, embed_dims), embed_dims, gen,
                              _tiny_openai_clip(gen))
    src, dst = str(tmp_path / 'ovseg_release.pth'), str(tmp_path / 'converted.pth')
    torch.save(source, src)
    meta = converter.main([src, dst])
    assert meta['backbone'] == ('r101c' if pair.startswith('r101c') else 'swin')
    assert meta['embed_dims'] == embed_dims
    converted = torch.load(dst, weights_only=True)
    clip_file = meta['clip_dst']
    assert clip_file == str(tmp_path / 'converted_clip.pth')
    model = _build(config, clip_pretrained=clip_file)
    result = model.load_state_dict(converted['state_dict'], strict=False)
    assert not result.unexpected_keys
    assert not [k for k in result.missing_keys if not k.endswith('num_batches_tracked')]
    # a few tensors where they belong
    state = model.state_dict()
    released = source['model']
    ours, theirs = ('decode_head.transformer_decoder.layers.5.',
                    'sem_seg_head.predictor.transformer.decoder.layers.5.')
    assert torch.equal(state[ours + 'cross_attn.attn.in_proj_weight'],
                       released[theirs + 'multihead_attn.in_proj_weight'])
    assert torch.equal(state['decode_head.pixel_decoder.last_feat_conv.gn.weight'],
                       released['sem_seg_head.pixel_decoder.layer_4.norm.weight'])
    assert torch.equal(state['decode_head.cls_embed.no_object_embedding'],
                       released['clip_adapter.non_object_embedding'])
    if pair == 'r101c_vit-b16':
        assert torch.equal(state['backbone.layer4.2.bn2.running_var'],
                           released['backbone.res5.2.conv2.norm.running_var'])
        assert torch.equal(state['backbone.stem.6.weight'], released['backbone.stem.conv3.weight'])
        assert model.backbone.layer4[2].conv2.dilation == (4, 4)  # multi-grid 1/2/4
    else:
        assert torch.equal(state['backbone.stages.2.blocks.17.ffn.layers.1.weight'],
                           released['backbone.layers.2.blocks.17.mlp.fc2.weight'])
    # the CLIP file holds the adapted tower, mask prompts included
    clip_state = model.clip_classifier.state_dict()
    assert torch.equal(clip_state['visual.mask_embedding'],
                       released['clip_adapter.clip_model.visual.mask_embedding'])


def test_unknown_or_missing_keys_are_named(tmp_path):
    converter = _converter()
    gen = torch.Generator().manual_seed(0)
    head = d2_head(gen, [8, 8, 8, 8], 4, hidden=8, queries=2, layers=1, ffn=8, class_hidden=8)
    backbone = {'stem.conv1.weight': torch.zeros(1)}
    bad = ovseg_checkpoint(backbone, head, 4, gen)['model']
    bad['sem_seg_head.predictor.extra.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match='predictor.extra'):
        converter.convert_ovseg(bad)
    no_object = ovseg_checkpoint(backbone, head, 4, gen)['model']
    del no_object['clip_adapter.non_object_embedding']
    with pytest.raises(KeyError, match='non_object_embedding'):
        converter.convert_ovseg(no_object)
    torch.save(dict(model={'backbone.stem.conv1.weight': torch.zeros(1)}), tmp_path / 'x.pth')
    with pytest.raises(KeyError, match='sem_seg_head'):
        converter.main([str(tmp_path / 'x.pth'), str(tmp_path / 'y.pth')])
    assert not os.path.exists(tmp_path / 'y.pth')


# ------------------------------------------------------------- the original head, re-computed
def _sine_position(height, width, num_feats, temperature=10000):
    """DETR's PositionEmbeddingSine(normalize=True) without a padding mask ``(1, 2F, H, W)``."""
    y = torch.arange(1, height + 1, dtype=torch.float32)[:, None].expand(height, width)
    x = torch.arange(1, width + 1, dtype=torch.float32)[None].expand(height, width)
    y = y / (y[-1:, :] + 1e-6) * 2 * torch.pi
    x = x / (x[:, -1:] + 1e-6) * 2 * torch.pi
    dim_t = temperature ** (2 * (torch.arange(num_feats) // 2) / num_feats)
    pos_x, pos_y = x[..., None] / dim_t, y[..., None] / dim_t
    pos_x = torch.stack((pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()), dim=3).flatten(2)
    pos_y = torch.stack((pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()), dim=3).flatten(2)
    return torch.cat((pos_y, pos_x), dim=2).permute(2, 0, 1)[None]


def original_head(sd, feats, text, heads, groups, layers):
    """OpenVocabMaskFormerHead + OVSeg's cosine scoring, from the detectron2-named weights."""
    def conv(x, name, relu, padding):
        y = F.conv2d(x, sd[f'pixel_decoder.{name}.weight'], padding=padding)
        y = F.group_norm(y, groups, sd[f'pixel_decoder.{name}.norm.weight'],
                         sd[f'pixel_decoder.{name}.norm.bias'])
        return F.relu(y) if relu else y

    y = conv(feats[-1], 'layer_4', True, 1)
    for index in (2, 1, 0):
        lateral = conv(feats[index], f'adapter_{index + 1}', False, 0)
        y = conv(lateral + F.interpolate(y, size=lateral.shape[-2:], mode='nearest'),
                 f'layer_{index + 1}', True, 1)
    mask_features = F.conv2d(y, sd['pixel_decoder.mask_features.weight'],
                             sd['pixel_decoder.mask_features.bias'], padding=1)
    p = 'predictor.'
    src = F.conv2d(feats[-1], sd[p + 'input_proj.weight'], sd[p + 'input_proj.bias'])
    batch, hidden, height, width = src.shape
    pos = _sine_position(height, width, hidden // 2).flatten(2).permute(2, 0, 1)
    memory = src.flatten(2).permute(2, 0, 1)
    query_pos = sd[p + 'query_embed.weight'][:, None].repeat(1, batch, 1)
    tgt = torch.zeros_like(query_pos)

    def attention(prefix):
        module = nn.MultiheadAttention(hidden, heads)
        module.load_state_dict({k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)})
        return module.eval()

    def norm(x, name):
        return F.layer_norm(x, (hidden, ), sd[name + '.weight'], sd[name + '.bias'])

    for layer in range(layers):
        q = f'{p}transformer.decoder.layers.{layer}.'
        tgt = norm(tgt + attention(q + 'self_attn.')(tgt + query_pos, tgt + query_pos, tgt)[0],
                   q + 'norm1')
        tgt = norm(tgt + attention(q + 'multihead_attn.')(tgt + query_pos, memory + pos,
                                                          memory)[0], q + 'norm2')
        ffn = F.linear(F.relu(F.linear(tgt, sd[q + 'linear1.weight'], sd[q + 'linear1.bias'])),
                       sd[q + 'linear2.weight'], sd[q + 'linear2.bias'])
        tgt = norm(tgt + ffn, q + 'norm3')
    hs = norm(tgt, p + 'transformer.decoder.norm').transpose(0, 1)  # (B, Q, hidden)
    x = hs
    for layer in range(3):
        x = F.linear(x, sd[p + f'mask_embed.layers.{layer}.weight'],
                     sd[p + f'mask_embed.layers.{layer}.bias'])
        x = F.relu(x) if layer < 2 else x
    masks = torch.einsum('bqc,bchw->bqhw', x, mask_features)
    embed = F.linear(F.relu(F.linear(hs, sd[p + 'class_embed.layers.0.weight'],
                                     sd[p + 'class_embed.layers.0.bias'])),
                     sd[p + 'class_embed.layers.1.weight'], sd[p + 'class_embed.layers.1.bias'])
    embed = embed / embed.norm(dim=-1, keepdim=True)
    no_object = sd['non_object_embedding']
    classifier = torch.cat([text, no_object / no_object.norm(dim=-1, keepdim=True)])
    return 100 * embed @ classifier.T, masks


@torch.no_grad()
def test_converted_head_computes_the_original_head():
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    import clipdense  # noqa: F401
    converter = _converter()
    init_default_scope('mmseg')
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/_base_/models/ovseg_tiny_toy.py'))
    head_cfg = cfg.model.decode_head
    head_cfg.transformer_decoder.num_layers = 3
    head = MODELS.build(head_cfg).eval()
    gen = torch.Generator().manual_seed(1)
    in_channels = head_cfg.in_channels
    sd = d2_head(gen, in_channels, 32, hidden=32, queries=8, layers=3, ffn=64, class_hidden=64)
    converted = converter.convert_sem_seg_head(sd)
    converted['cls_embed.no_object_embedding'] = torch.randn(1, 32, generator=gen)
    result = head.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    text = F.normalize(torch.randn(5, 32, generator=gen), dim=-1)
    head.set_text_embeddings(text)
    feats = [torch.randn(2, c, 64 // 2 ** i, 96 // 2 ** i, generator=gen)
             for i, c in enumerate(in_channels)]
    ours_cls, ours_masks = head.proposals(feats, [dict(img_shape=(256, 384))] * 2)
    sd['non_object_embedding'] = converted['cls_embed.no_object_embedding']
    ref_cls, ref_masks = original_head(sd, feats, text, heads=4, groups=8, layers=3)
    assert ours_cls.shape == (2, 8, 6) and ours_masks.shape == (2, 8, 64, 96)
    assert torch.allclose(ours_masks, ref_masks, atol=1e-4, rtol=1e-4)
    assert torch.allclose(ours_cls, ref_cls, atol=1e-4)


def test_pretrained_backbones_for_training(tmp_path):
    """--backbone-only: detectron2's DeepLab ResNet as a .pkl of numpy arrays (read without
    unpickling anything else) and the official Swin weights (head and final norm dropped)."""
    import pickle

    from mmseg.models.backbones import ResNetV1c, SwinTransformer
    converter = _converter()
    gen = torch.Generator().manual_seed(0)
    resnet = d2_deeplab_resnet(gen, blocks=(3, 4, 6, 3))
    with open(tmp_path / 'R-53.pkl', 'wb') as f:
        pickle.dump(dict(model={k: v.numpy() for k, v in resnet.items()},
                         __author__='synthetic', matching_heuristics=True), f)
    converter.main([str(tmp_path / 'R-53.pkl'), str(tmp_path / 'r.pth'), '--backbone-only'])
    model = ResNetV1c(depth=50, stem_channels=128, multi_grid=(1, 2, 4))
    state = torch.load(tmp_path / 'r.pth', weights_only=True)['state_dict']
    model.load_state_dict(state, strict=True)
    assert torch.equal(model.layer3[5].conv3.weight, resnet['res4.5.conv3.weight'])

    swin = d2_swin(gen, embed=32, depths=(2, 2, 2, 2), heads=(1, 2, 4, 8), window=7)
    swin = {k: v for k, v in swin.items() if not re.match(r'norm\d', k)}  # official: one norm
    swin.update({'norm.weight': torch.ones(256), 'norm.bias': torch.zeros(256),
                 'head.weight': torch.zeros(10, 256), 'head.bias': torch.zeros(10),
                 'layers.0.blocks.1.attn_mask': torch.zeros(4, 49, 49)})
    torch.save(dict(model=swin), tmp_path / 'swin.pth')
    converter.main([str(tmp_path / 'swin.pth'), str(tmp_path / 's.pth'), '--backbone-only'])
    state = torch.load(tmp_path / 's.pth', weights_only=True)['state_dict']
    model = SwinTransformer(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8),
                            window_size=7)
    result = model.load_state_dict(state, strict=False)
    assert not result.unexpected_keys
    assert sorted(result.missing_keys) == [f'norm{i}.{p}' for i in range(4)
                                           for p in ('bias', 'weight')]

    class Evil:
        def __reduce__(self):
            return (os.system, ('echo pwned',))

    with open(tmp_path / 'evil.pkl', 'wb') as f:
        pickle.dump(dict(model={'stem.conv1.weight': Evil()}), f)
    with pytest.raises(ValueError, match='posix.system|os.system|not allowed'):
        converter.read_checkpoint(str(tmp_path / 'evil.pkl'))
