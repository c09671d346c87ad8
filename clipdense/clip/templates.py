"""Prompt template sets. Each template has one ``{}`` for the class name."""
from typing import List, Sequence, Union

SINGLE_TEMPLATE = ('a photo of a {}.',)

# The 14 templates of ViLD (used by OVSeg and open-vocabulary detectors).
VILD_TEMPLATES = (
    'a photo of a {}.',
    'This is a photo of a {}',
    'There is a {} in the scene',
    'There is the {} in the scene',
    'a photo of a {} in the scene',
    'a photo of a small {}.',
    'a photo of a medium {}.',
    'a photo of a large {}.',
    'This is a photo of a small {}.',
    'This is a photo of a medium {}.',
    'This is a photo of a large {}.',
    'There is a small {} in the scene.',
    'There is a medium {} in the scene.',
    'There is a large {} in the scene.',
)


def imagenet_templates() -> List[str]:
    """CLIP's 80 ImageNet prompt templates, taken from the installed open_clip."""
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES
    return [template('{}') for template in OPENAI_IMAGENET_TEMPLATES]


TEMPLATE_SETS = {
    'single': lambda: list(SINGLE_TEMPLATE),
    'vild14': lambda: list(VILD_TEMPLATES),
    'imagenet80': imagenet_templates,
}


def get_templates(templates: Union[str, Sequence[str]]) -> List[str]:
    """Resolves a template-set name (``single``, ``vild14``, ``imagenet80``) or a list."""
    if isinstance(templates, str):
        if templates not in TEMPLATE_SETS:
            raise ValueError(f'unknown template set {templates!r}; choose one of '
                             f'{sorted(TEMPLATE_SETS)} or pass a list of strings with "{{}}"')
        return TEMPLATE_SETS[templates]()
    templates = list(templates)
    bad = [t for t in templates if t.count('{}') != 1]
    if not templates or bad:
        raise ValueError(f'each template needs exactly one "{{}}" placeholder; bad: {bad}')
    return templates
