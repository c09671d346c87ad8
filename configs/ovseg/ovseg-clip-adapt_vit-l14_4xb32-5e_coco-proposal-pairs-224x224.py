# OVSeg step 1, ViT-L/14 (the released Swin-B + ViT-L/14 model): fine-tune the image tower on
# masked region crops, text tower locked, 4 GPUs x 32 pairs, 5 epochs, lr 5e-6 cosine.
_base_ = './ovseg-clip-adapt_vit-b16_4xb128-5e_coco-proposal-pairs-224x224.py'
model = dict(
    classifier=dict(clip=dict(model_name='ViT-L-14', pretrained='pretrained/ViT-L-14.pt')))
train_dataloader = dict(batch_size=32)
auto_scale_lr = dict(enable=False, base_batch_size=128)
