# Training CLIP-DINOiser's light layers (obj_proj, bkg_decoder) on 1000 unlabeled ImageNet images
# with frozen teachers: DINO ViT-B/16 value correlations and FOUND saliency (local weights).
# Checkpoints hold only the light layers; evaluate them with the zero-shot configs
# (tools/test.py CONFIG work_dirs/.../epoch_100.pth).
_base_ = [
    '../_base_/models/clip-dinoiser_vit-b16.py', '../_base_/datasets/zs_imagenet-unlabeled.py',
    '../_base_/schedules/schedule_clip-dinoiser_light-layers.py', '../_base_/default_runtime.py'
]
model = dict(
    data_preprocessor=dict(size=(448, 448)),
    decode_head=dict(checkpoint=None),  # trained from scratch
    teachers=dict(
        correlation=dict(type='DINOValueTeacher', arch='vit_base_patch16_224',
                         weights='pretrained/dino_vitbase16_pretrain.pth', threshold=0.2),
        saliency=dict(type='FOUNDSaliencyTeacher', arch='vit_small_patch8_224',
                      weights='pretrained/dino_deitsmall8_300ep_pretrain.pth',
                      decoder_weights='pretrained/found_decoder_weights.pt', threshold=0.5)),
    loss_weights=dict(correlation=1.0, saliency=1.0),
    train_cfg=dict())
