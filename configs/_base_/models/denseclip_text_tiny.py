# DenseCLIP's text side at toy size (random init, CPU tests and demos): a 2-layer, 32-wide text
# tower with 8 learnable contexts and 64-dim embeddings, and a 3-layer, 32-wide context decoder.
denseclip_text_encoder = dict(
    type='CLIPTextContextEncoder',
    context_length=13,
    embed_dim=64,
    transformer_width=32,
    transformer_heads=2,
    transformer_layers=2,
    pretrained=None)
denseclip_context_decoder = dict(
    type='ContextDecoder',
    transformer_width=32,
    transformer_heads=2,
    transformer_layers=3,
    visual_dim=64,
    dropout=0.1)
