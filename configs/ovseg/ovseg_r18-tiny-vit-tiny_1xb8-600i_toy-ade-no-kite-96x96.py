# The toy open-vocabulary case: the proposal network is trained on five of the six toy classes
# ('kite' pixels are ignored in training, and 'kite' is not in its training vocabulary) and
# evaluated on all six. CLIP (frozen; e.g. the toy-adapted tiny CLIP via
# --cfg-options model.clip_classifier.clip.pretrained=FILE) is what can name the unseen class.
_base_ = ['./ovseg_r18-tiny-vit-tiny_1xb8-600i_toy-ade-96x96.py']
seen_classes = ['sky', 'grass', 'ball', 'box', 'tent']
model = dict(
    train_class_names=seen_classes,
    decode_head=dict(num_classes=5, loss_cls=dict(class_weight=[1.0] * 5 + [0.1])))
train_dataloader = dict(dataset=dict(metainfo=dict(classes=seen_classes)))
