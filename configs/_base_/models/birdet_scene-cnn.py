# BIRDet's small CNN scene classifier (image-level scene labels -> scene logits). Inputs are
# normalised as CLIP's (the detector's preprocessing), so BIM's SceneCNNScorer can feed it the
# detector's preprocessed images.
model = dict(
    type='SceneClassifier',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[122.7709383, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True,
        pad_size_divisor=1),
    network=dict(
        type='SceneCNN', num_classes=365, channels=(32, 64, 128, 256, 512),
        input_size=(224, 224), dropout=0.2))
