# DenseCLIP's text side for CLIP RN50, shared by its segmentation and detection configs (which
# substitute these variables): the frozen CLIP text tower with 8 learnable contexts (13 tokens =
# SOT + 8 contexts + a name of at most 3 BPE tokens + EOT) and the 3-layer context decoder.
denseclip_text_encoder = dict(
    type='CLIPTextContextEncoder',
    context_length=13,
    embed_dim=1024,
    transformer_width=512,
    transformer_heads=8,
    transformer_layers=12,
    pretrained='pretrained/RN50.pt')
denseclip_context_decoder = dict(
    type='ContextDecoder',
    transformer_width=256,
    transformer_heads=4,
    transformer_layers=3,
    visual_dim=1024,
    dropout=0.1)
