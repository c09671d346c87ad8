"""Pascal Context with all 459 classes (PC-459), validation split.

Layout (written by ``tools/dataset_converters/pascal_context459.py`` from the PASCAL-Context
release, the files OVSeg's ``prepare_pascal_context.py`` writes)::

    data/VOCdevkit/VOC2010/JPEGImages/2008_000002.jpg
    data/VOCdevkit/VOC2010/annotations_detectron2/pc459_val/2008_000002.tif

Label maps are 16-bit TIFFs: ``0..458`` the class index (order below, the release's
``labels.txt`` minus one), 65535 unlabelled. Without ``ann_file`` the label folder defines the
split (every ``*.tif`` in it).
"""
import os.path as osp

from mmengine import fileio
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .ade847 import WIDE_LABEL_IGNORE_INDEX

# Class names (prompts) in label order, as OVSeg words them.
PASCAL_CONTEXT459_CLASSES = (
    'accordion', 'aeroplane', 'air conditioner', 'antenna', 'artillery', 'ashtray', 'atrium',
    'baby carriage', 'bag', 'ball', 'balloon', 'bamboo weaving', 'barrel', 'baseball bat',
    'basket', 'basketball backboard', 'bathtub', 'bed', 'bedclothes', 'beer', 'bell', 'bench',
    'bicycle', 'binoculars', 'bird', 'bird cage', 'bird feeder', 'bird nest', 'blackboard',
    'board', 'boat', 'bone', 'book', 'bottle', 'bottle opener', 'bowl', 'box', 'bracelet',
    'brick', 'bridge', 'broom', 'brush', 'bucket', 'building', 'bus', 'cabinet', 'cabinet door',
    'cage', 'cake', 'calculator', 'calendar', 'camel', 'camera', 'camera lens', 'can', 'candle',
    'candle holder', 'cap', 'car', 'card', 'cart', 'case', 'casette recorder', 'cash register',
    'cat', 'cd', 'cd player', 'ceiling', 'cell phone', 'cello', 'chain', 'chair', 'chessboard',
    'chicken', 'chopstick', 'clip', 'clippers', 'clock', 'closet', 'cloth', 'clothes tree',
    'coffee', 'coffee machine', 'comb', 'computer', 'concrete', 'cone', 'container',
    'control booth', 'controller', 'cooker', 'copying machine', 'coral', 'cork', 'corkscrew',
    'counter', 'court', 'cow', 'crabstick', 'crane', 'crate', 'cross', 'crutch', 'cup',
    'curtain', 'cushion', 'cutting board', 'dais', 'disc', 'disc case', 'dishwasher', 'dock',
    'dog', 'dolphin', 'door', 'drainer', 'dray', 'drink dispenser', 'drinking machine', 'drop',
    'drug', 'drum', 'drum kit', 'duck', 'dumbbell', 'earphone', 'earrings', 'egg',
    'electric fan', 'electric iron', 'electric pot', 'electric saw', 'electronic keyboard',
    'engine', 'envelope', 'equipment', 'escalator', 'exhibition booth', 'extinguisher',
    'eyeglass', 'fan', 'faucet', 'fax machine', 'fence', 'ferris wheel', 'fire extinguisher',
    'fire hydrant', 'fire place', 'fish', 'fish tank', 'fishbowl', 'fishing net',
    'fishing pole', 'flag', 'flagstaff', 'flame', 'flashlight', 'floor', 'flower', 'fly',
    'foam', 'food', 'footbridge', 'forceps', 'fork', 'forklift', 'fountain', 'fox', 'frame',
    'fridge', 'frog', 'fruit', 'funnel', 'furnace', 'game controller', 'game machine',
    'gas cylinder', 'gas hood', 'gas stove', 'gift box', 'glass', 'glass marble', 'globe',
    'glove', 'goal', 'grandstand', 'grass', 'gravestone', 'ground', 'guardrail', 'guitar',
    'gun', 'hammer', 'hand cart', 'handle', 'handrail', 'hanger', 'hard disk drive', 'hat',
    'hay', 'headphone', 'heater', 'helicopter', 'helmet', 'holder', 'hook', 'horse',
    'horse-drawn carriage', 'hot-air balloon', 'hydrovalve', 'ice', 'inflator pump', 'ipod',
    'iron', 'ironing board', 'jar', 'kart', 'kettle', 'key', 'keyboard', 'kitchen range',
    'kite', 'knife', 'knife block', 'ladder', 'ladder truck', 'ladle', 'laptop', 'leaves',
    'lid', 'life buoy', 'light', 'light bulb', 'lighter', 'line', 'lion', 'lobster', 'lock',
    'machine', 'mailbox', 'mannequin', 'map', 'mask', 'mat', 'match book', 'mattress', 'menu',
    'metal', 'meter box', 'microphone', 'microwave', 'mirror', 'missile', 'model', 'money',
    'monkey', 'mop', 'motorbike', 'mountain', 'mouse', 'mouse pad', 'musical instrument',
    'napkin', 'net', 'newspaper', 'oar', 'ornament', 'outlet', 'oven', 'oxygen bottle', 'pack',
    'pan', 'paper', 'paper box', 'paper cutter', 'parachute', 'parasol', 'parterre', 'patio',
    'pelage', 'pen', 'pen container', 'pencil', 'person', 'photo', 'piano', 'picture', 'pig',
    'pillar', 'pillow', 'pipe', 'pitcher', 'plant', 'plastic', 'plate', 'platform', 'player',
    'playground', 'pliers', 'plume', 'poker', 'poker chip', 'pole', 'pool table', 'postcard',
    'poster', 'pot', 'pottedplant', 'printer', 'projector', 'pumpkin', 'rabbit', 'racket',
    'radiator', 'radio', 'rail', 'rake', 'ramp', 'range hood', 'receiver', 'recorder',
    'recreational machines', 'remote control', 'road', 'robot', 'rock', 'rocket',
    'rocking horse', 'rope', 'rug', 'ruler', 'runway', 'saddle', 'sand', 'saw', 'scale',
    'scanner', 'scissors', 'scoop', 'screen', 'screwdriver', 'sculpture', 'scythe', 'sewer',
    'sewing machine', 'shed', 'sheep', 'shell', 'shelves', 'shoe', 'shopping cart', 'shovel',
    'sidecar', 'sidewalk', 'sign', 'signal light', 'sink', 'skateboard', 'ski', 'sky', 'sled',
    'slippers', 'smoke', 'snail', 'snake', 'snow', 'snowmobiles', 'sofa', 'spanner',
    'spatula', 'speaker', 'speed bump', 'spice container', 'spoon', 'sprayer', 'squirrel',
    'stage', 'stair', 'stapler', 'stick', 'sticky note', 'stone', 'stool', 'stove', 'straw',
    'stretcher', 'sun', 'sunglass', 'sunshade', 'surveillance camera', 'swan', 'sweeper',
    'swim ring', 'swimming pool', 'swing', 'switch', 'table', 'tableware', 'tank', 'tap',
    'tape', 'tarp', 'telephone', 'telephone booth', 'tent', 'tire', 'toaster', 'toilet', 'tong',
    'tool', 'toothbrush', 'towel', 'toy', 'toy car', 'track', 'train', 'trampoline',
    'trash bin', 'tray', 'tree', 'tricycle', 'tripod', 'trophy', 'truck', 'tube', 'turtle',
    'tvmonitor', 'tweezers', 'typewriter', 'umbrella', 'unknown', 'vacuum cleaner',
    'vending machine', 'video camera', 'video game console', 'video player', 'video tape',
    'violin', 'wakeboard', 'wall', 'wallet', 'wardrobe', 'washing machine', 'watch', 'water',
    'water dispenser', 'water pipe', 'water skate board', 'watermelon', 'whale', 'wharf',
    'wheel', 'wheelchair', 'window', 'window blinds', 'wineglass', 'wire', 'wood', 'wool',
)


@DATASETS.register_module()
class PascalContext459Dataset(BaseSegDataset):
    """PC-459 validation: ``JPEGImages/*.jpg`` and 16-bit ``*.tif`` label maps (load them with
    ``LoadWideLabelAnnotations``; evaluate with ``IoUMetric(ignore_index=65535)``)."""
    METAINFO = dict(classes=PASCAL_CONTEXT459_CLASSES)

    def __init__(self, img_suffix='.jpg', seg_map_suffix='.tif', reduce_zero_label=False,
                 ignore_index=WIDE_LABEL_IGNORE_INDEX, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, ignore_index=ignore_index,
                         **kwargs)

    def load_data_list(self):
        """With ``ann_file``, mmseg's rule; without, one sample per label map (JPEGImages
        holds all of VOC2010, only a part of which has PC-459 labels)."""
        if self.ann_file:
            return super().load_data_list()
        img_dir = self.data_prefix.get('img_path', '')
        seg_dir = self.data_prefix.get('seg_map_path', '')
        names = sorted(fileio.list_dir_or_file(seg_dir, list_dir=False, suffix=self.seg_map_suffix,
                                               backend_args=self.backend_args))
        if not names:
            raise FileNotFoundError(f'no *{self.seg_map_suffix} label maps in {seg_dir}')
        data_list = []
        for name in names:
            stem = name[:-len(self.seg_map_suffix)]
            data_list.append(dict(img_path=osp.join(img_dir, stem + self.img_suffix),
                                  seg_map_path=osp.join(seg_dir, name),
                                  label_map=self.label_map,
                                  reduce_zero_label=self.reduce_zero_label, seg_fields=[]))
        return data_list
