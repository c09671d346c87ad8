"""The DenseCLIP segmentor: score map, frozen text encoder, text cache, released checkpoints."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

TOY_CONFIG = 'configs/denseclip/denseclip_rn-tiny_1xb8-400i_toy-ade-96x96.py'
R50_CONFIG = 'configs/denseclip/denseclip_r50_8xb4-80k_ade20k-512x512.py'


def build_model(model_cfg, seed=0):
    import clipdense  # noqa: F401
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    torch.manual_seed(seed)
    return MODELS.build(copy.deepcopy(model_cfg))


@pytest.fixture(scope='module')
def toy_cfg():
    return Config.fromfile(TOY_CONFIG)


@pytest.fixture(scope='module')
def recipe():
    return Config.fromfile(R50_CONFIG)


def _samples(batch, height, width, seed=0):
    generator = torch.Generator().manual_seed(seed)
    meta = dict(img_shape=(height, width), ori_shape=(height, width), pad_shape=(height, width))
    return [SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 6, (1, height, width),
                                                                  generator=generator)),
                          metainfo=meta) for _ in range(batch)]


def test_score_map_is_cosine_of_refined_text_and_dense_features(toy_cfg):
    model = build_model(toy_cfg.model).eval()
    with torch.no_grad():
        model.gamma.fill_(0.5)  # make the refinement visible
    image = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        feats, score_map, text = model._visual_text_features(image)
        *stages, (global_feat, dense) = model.backbone(image)
        base = model.text_encoder(model.texts, model.contexts).expand(2, -1, -1)
        context = torch.cat([global_feat[:, None], dense.flatten(2).transpose(1, 2)], dim=1)
        refined = base + 0.5 * model.context_decoder(base, context)
        cosine = F.cosine_similarity(dense[:, None], refined[:, :, :, None, None], dim=2)
    assert score_map.shape == (2, 6, 2, 3) and text.shape == (2, 6, 64)
    assert torch.allclose(text, refined, atol=1e-6)
    assert torch.allclose(score_map, cosine, atol=1e-5)
    assert not torch.allclose(refined, base, atol=1e-3)
    assert len(feats) == 4 and feats[0].shape == (2, 64, 16, 24)


def test_gradients_reach_contexts_and_gamma_never_the_text_encoder(toy_cfg):
    model = build_model(toy_cfg.model).train()
    losses = model.loss(torch.randn(2, 3, 96, 96), _samples(2, 96, 96))
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg', 'identity.loss_ce',
                           'identity.acc_seg'}
    assert 1.0 < losses['decode.loss_ce'].item() < 3.0  # ~ln 6 at initialisation
    (losses['decode.loss_ce'] + losses['identity.loss_ce']).backward()
    assert model.contexts.grad.abs().sum() > 0 and model.gamma.grad.abs().sum() > 0
    assert model.context_decoder.out_proj[1].weight.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in model.text_encoder.parameters())
    assert not model.text_encoder.training  # frozen: stays in eval mode


def _train_with_recipe(model, recipe, steps=3):
    """A few steps with the ADE recipe's optimizer (lr multipliers) and its PolyLR (eta_min)."""
    from mmengine.optim import PolyLR, build_optim_wrapper
    wrapper = build_optim_wrapper(model.train(), recipe.optim_wrapper)
    poly = [s for s in recipe.param_scheduler if s['type'] == 'PolyLR'][0]
    scheduler = PolyLR(wrapper.optimizer, eta_min=poly['eta_min'], power=poly['power'],
                       begin=0, end=steps, by_epoch=False)
    for step in range(steps):
        losses = model.loss(torch.randn(2, 3, 96, 96), _samples(2, 96, 96, seed=step))
        wrapper.update_params(losses['decode.loss_ce'] + losses['identity.loss_ce'])
        scheduler.step()
    return wrapper.optimizer


def _groups_of(optimizer, module):
    own = {id(p) for p in module.parameters()}
    return [g for g in optimizer.param_groups if any(id(p) in own for p in g['params'])]


def test_recipe_optimizer_never_moves_the_frozen_text_encoder(toy_cfg, recipe):
    model = build_model(toy_cfg.model)
    text_before = copy.deepcopy(model.text_encoder.state_dict())
    contexts_before = model.contexts.detach().clone()
    optimizer = _train_with_recipe(model, recipe)
    assert _groups_of(optimizer, model.text_encoder) == []  # not even in the optimizer
    for key, value in model.text_encoder.state_dict().items():
        assert torch.equal(value, text_before[key]), key
    assert not torch.equal(model.contexts, contexts_before)
    backbone_lr = _groups_of(optimizer, model.backbone)[0]['initial_lr']
    head_lr = _groups_of(optimizer, model.decode_head)[0]['initial_lr']
    assert backbone_lr == pytest.approx(0.1 * head_lr, rel=0.02)


def test_lr_mult_zero_alone_leaks_min_lr_as_in_the_original(toy_cfg, recipe):
    """Why freezing uses requires_grad: with lr_mult 0 only, PolyLR's eta_min lifts the text
    encoder's lr from 0 and AdamW moves the 'frozen' weights (the original's bug)."""
    cfg = copy.deepcopy(toy_cfg.model)
    cfg.freeze_text_encoder = False
    model = build_model(cfg)
    text_before = copy.deepcopy(model.text_encoder.state_dict())
    optimizer = _train_with_recipe(model, recipe)
    lrs = {g['lr'] for g in _groups_of(optimizer, model.text_encoder)}
    assert 0 < max(lrs) <= 1e-6
    moved = [k for k, v in model.text_encoder.state_dict().items()
             if not torch.equal(v, text_before[k])]
    assert moved


def test_text_embeddings_cached_in_inference_and_context_decoder_runs_per_crop(toy_cfg):
    model = build_model(toy_cfg.model).eval()
    calls = dict(text=0, decoder=0)
    model.text_encoder.register_forward_hook(lambda *_: calls.__setitem__('text',
                                                                          calls['text'] + 1))
    model.context_decoder.register_forward_hook(
        lambda *_: calls.__setitem__('decoder', calls['decoder'] + 1))
    image = torch.randn(1, 3, 96, 200)  # slide 96/64: 3 crops
    meta = [SegDataSample(metainfo=dict(img_shape=(96, 200), ori_shape=(96, 200)))]
    with torch.no_grad():
        first = model.predict(image, copy.deepcopy(meta))[0].seg_logits.data
        second = model.predict(image, copy.deepcopy(meta))[0].seg_logits.data
    assert calls == dict(text=1, decoder=6)
    assert torch.equal(first, second)
    with torch.no_grad():
        model.contexts.add_(0.5)  # new contexts (e.g. a loaded checkpoint) invalidate the cache
        third = model.predict(image, copy.deepcopy(meta))[0].seg_logits.data
    assert calls['text'] == 2 and not torch.allclose(first, third)
    uncached = model.inference(image, [dict(m.metainfo) for m in meta])  # grad on: per crop
    assert calls['text'] == 2 + 3 and torch.allclose(uncached, third, atol=1e-5)
    model.train()
    model.loss(torch.randn(2, 3, 96, 96), _samples(2, 96, 96))
    model.loss(torch.randn(2, 3, 96, 96), _samples(2, 96, 96))
    assert calls['text'] == 7  # recomputed every training step



def test_text_cache_not_reused_across_autocast(toy_cfg):
    """Embeddings cached under autocast (bf16) must not be served to a later fp32 prediction."""
    model = build_model(toy_cfg.model).eval()
    image = torch.randn(1, 3, 96, 128)
    meta = [SegDataSample(metainfo=dict(img_shape=(96, 128), ori_shape=(96, 128)))]
    with torch.no_grad():
        with torch.autocast('cpu', dtype=torch.bfloat16):
            model.predict(image, copy.deepcopy(meta))
        assert model.text_embeddings().dtype == torch.float32
        fp32 = model.predict(image, copy.deepcopy(meta))[0].seg_logits.data
        model._text_cache = None
        assert torch.equal(fp32, model.predict(image, copy.deepcopy(meta))[0].seg_logits.data)


# Keys of the original DenseCLIP's released RN50 checkpoint (mmcv format), one per module kind.
ORIGINAL_KEYS = [
    'contexts', 'gamma', 'backbone.conv1.weight', 'backbone.layer4.0.downsample.0.weight',
    'backbone.attnpool.positional_embedding', 'backbone.attnpool.q_proj.weight',
    'backbone.attnpool.c_proj.bias', 'text_encoder.positional_embedding',
    'text_encoder.token_embedding.weight', 'text_encoder.text_projection',
    'text_encoder.transformer.resblocks.11.attn.in_proj_weight',
    'text_encoder.transformer.resblocks.0.mlp.c_fc.weight', 'text_encoder.ln_final.weight',
    'context_decoder.memory_proj.0.weight', 'context_decoder.memory_proj.2.bias',
    'context_decoder.text_proj.1.weight', 'context_decoder.decoder.2.self_attn.q_proj.weight',
    'context_decoder.decoder.0.cross_attn.proj.bias', 'context_decoder.decoder.1.norm3.weight',
    'context_decoder.decoder.0.mlp.3.weight', 'context_decoder.out_proj.1.weight',
    'neck.lateral_convs.3.conv.weight', 'decode_head.scale_heads.3.2.conv.weight',
    'decode_head.conv_seg.weight'
]


def test_released_rn50_checkpoint_layout_matches(recipe):
    cfg = copy.deepcopy(recipe)
    with torch.device('meta'):  # shapes only: no memory, no weights needed
        state = build_model(cfg.model).state_dict()
    assert set(ORIGINAL_KEYS) <= set(state)
    assert not [k for k in state if k.startswith('identity_head') or k == 'texts']
    assert state['backbone.attnpool.positional_embedding'].shape == (257, 2048)
    assert state['text_encoder.positional_embedding'].shape == (13, 512)
    assert state['contexts'].shape == (1, 8, 512) and state['gamma'].shape == (1024, )
    assert state['neck.lateral_convs.3.conv.weight'].shape == (256, 2048 + 150, 1, 1)


def test_mmcv_format_checkpoint_loads_strictly(toy_cfg, tmp_path):
    from mmengine.runner import load_checkpoint
    model = build_model(toy_cfg.model)
    state = model.state_dict()
    path = tmp_path / 'denseclip_fpn_res50_512x512_80k.pth'  # mmcv 1.x layout: meta + state_dict
    torch.save(dict(meta=dict(mmcv_version='1.3.17', CLASSES=model.class_names),
                    state_dict={k: torch.full_like(v, 0.25) if v.is_floating_point() else v
                                for k, v in state.items()}), path)
    load_checkpoint(model, str(path), strict=True)
    assert torch.all(model.gamma == 0.25) and torch.all(model.contexts == 0.25)
    assert torch.all(model.text_encoder.text_projection == 0.25)


def test_configuration_errors_are_explicit(toy_cfg):
    cfg = copy.deepcopy(toy_cfg.model)
    cfg.class_names = ['sky', 'grass']
    with pytest.raises(ValueError, match='2 class names but the decode head has num_classes=6'):
        build_model(cfg)
    cfg = copy.deepcopy(toy_cfg.model)
    cfg.backbone.type = 'CLIPResNet'
    cfg.neck.in_channels[3] = 512 + 6
    model = build_model(cfg)
    with pytest.raises(TypeError, match='CLIPResNetWithAttention'):
        model._forward(torch.randn(1, 3, 64, 64))
    cfg = copy.deepcopy(toy_cfg.model)
    cfg.class_names = ['sky', 'grass', 'ball', 'box', 'tent', 'a very long kite name indeed']
    with pytest.raises(Exception, match="'a very long kite name indeed' is 6 BPE tokens"):
        build_model(cfg)
    cfg = copy.deepcopy(toy_cfg.model)
    cfg.text_dim = 32
    with pytest.raises(ValueError, match='text_dim=32 must equal'):
        build_model(cfg)


def test_released_vit_checkpoint_layout_matches():
    cfg = Config.fromfile('configs/denseclip/denseclip_vit-b16_8xb4-80k_ade20k-640x640.py')
    with torch.device('meta'):  # shape-only build, also with drop path in the backbone
        state = build_model(cfg.model).state_dict()
    shapes = {'backbone.positional_embedding': (1601, 768), 'backbone.proj': (768, 512),
              'backbone.class_embedding': (768, ), 'backbone.fpn1.2.running_var': (768, ),
              'backbone.fpn1.3.weight': None, 'backbone.fpn2.1.weight': (768, 768, 2, 2),
              'backbone.transformer.resblocks.11.attn.in_proj_weight': (2304, 768),
              'text_encoder.positional_embedding': (13, 512), 'contexts': (1, 8, 512),
              'gamma': (512, ), 'neck.lateral_convs.2.conv.weight': (256, 768 + 150, 1, 1)}
    for key, shape in shapes.items():
        if shape is None:  # fpn1.3 is the GELU: no parameters
            assert key not in state
        else:
            assert tuple(state[key].shape) == shape, key
    assert not [k for k in state if k.startswith('identity_head') or 'drop' in k]


def test_public_pixel_text_scores_equal_what_the_neck_and_decode_head_receive(toy_cfg):
    cfg = copy.deepcopy(toy_cfg.model)
    cfg.text_head = True  # the decode head also receives the refined text embeddings first
    cfg.decode_head.in_index = [1, 2, 3, 4]
    model = build_model(cfg).eval()
    with torch.no_grad():
        model.gamma.fill_(0.5)
    received = {}
    model.neck.register_forward_pre_hook(lambda _, args: received.update(neck=args[0]))
    head_forward = model.decode_head.forward  # called directly, so hooks would not fire

    def capture(inputs):
        received['head'] = inputs
        return head_forward(inputs)

    model.decode_head.forward = capture
    image = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        text, score_map = model.pixel_text_scores(image)
        model._forward(image)
    assert text.shape == (2, 6, 64) and score_map.shape == (2, 6, 2, 3)
    assert torch.equal(received['neck'][3][:, -6:], score_map)  # fused as is (no tau)
    assert torch.equal(received['head'][0], text)


def test_refactored_text_path_reproduces_the_segmentor_bit_for_bit(toy_cfg):
    """The shared text path (ContextAwarePrompting) composed by hand from the segmentor's own
    modules, in the order the segmentor used before the detectors shared it: equal bits."""
    model = build_model(toy_cfg.model).eval()
    with torch.no_grad():
        model.gamma.fill_(0.5)
        image = torch.randn(2, 3, 96, 128)
        *stages, (global_feat, dense) = model.backbone(image)
        text = model.text_encoder(model.texts, model.contexts).expand(2, -1, -1)
        context = torch.cat([global_feat.unsqueeze(1), dense.flatten(2).transpose(1, 2)], dim=1)
        text = text + model.gamma * model.context_decoder(text, context)
        score_map = torch.einsum('bchw,bkc->bkhw', F.normalize(dense, dim=1),
                                 F.normalize(text, dim=2))
        stages[3] = torch.cat([stages[3], score_map], dim=1)
        logits = model.decode_head.forward(list(model.neck(stages)))
        assert torch.equal(model._forward(image), logits)
    # seed 0 builds the contexts the segmentor built before the refactor (values recorded then:
    # the construction order, hence the random stream, is unchanged)
    assert build_model(toy_cfg.model, seed=0).contexts.flatten()[:3].tolist() == pytest.approx(
        [-0.0643093, -0.5049067, -0.5837753], abs=1e-6)
