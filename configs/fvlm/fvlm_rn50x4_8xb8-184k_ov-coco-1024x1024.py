# F-VLM, frozen CLIP RN50x4 (288-pixel CLIP, 9x9 attention-pool grid, 40 heads, 640-d
# embeddings), OV-COCO; same recipe as the RN50 config. Weights: pretrained/RN50x4.pt (OpenAI).
_base_ = './fvlm_rn50_8xb8-184k_ov-coco-1024x1024.py'
clip_pretrained = 'pretrained/RN50x4.pt'
model = dict(
    backbone=dict(model_name='RN50x4', heads=40, pretrained=clip_pretrained),
    text_encoder=dict(
        transformer_width=640, transformer_heads=10, embed_dim=640, pretrained=clip_pretrained),
    neck=dict(in_channels=[320, 640, 1280, 2560]),
    roi_head=dict(bbox_head=dict(embed_dim=640), vlm_roi_output_size=9))
