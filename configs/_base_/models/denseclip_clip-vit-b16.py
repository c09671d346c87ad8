# CLIP ViT-B/16 as a 640x640 multi-scale backbone (maps after blocks 3/5/7/11), shared by the
# DenseCLIP and plain-CLIP ViT configs, which substitute it for the base backbone (_delete_).
# As in the original, DenseCLIP trains it with drop path 0.1 and the plain-CLIP baseline without
# (clip_vit_b16_baseline).
clip_vit_b16 = dict(
    _delete_=True,
    type='CLIPVisionTransformer',
    input_resolution=640,
    patch_size=16,
    width=768,
    layers=12,
    heads=12,
    output_dim=512,
    out_indices=[3, 5, 7, 11],
    drop_path_rate=0.1,
    drop_path_per_token=True,  # the original's stochastic depth ran over token positions
    get_embeddings=False,
    double_class_embedding=True,  # the original's quirk; released DenseCLIP checkpoints need it
    pretrained='pretrained/ViT-B-16.pt')
clip_vit_b16_baseline = dict(clip_vit_b16, drop_path_rate=0.0)
# Detection (this project's extension, no counterpart in the original): the same tower for
# COCO's 1333x800 inputs (positional grid 1344 / 16 = 84, resized bilinearly at load and run
# time); DenseCLIP needs the embeddings, the plain-CLIP baseline does not.
clip_vit_b16_det = dict(clip_vit_b16, input_resolution=1344, get_embeddings=True)
clip_vit_b16_det_baseline = dict(clip_vit_b16_det, drop_path_rate=0.0, get_embeddings=False)
