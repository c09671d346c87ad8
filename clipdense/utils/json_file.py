"""Reading JSON inputs (annotations, proposals, captions) with errors that name the file."""
import json
import os.path as osp


def read_json(path: str, what: str = 'JSON file'):
    """The parsed content of ``path``; ``what`` names the file's role in the errors.

    Raises:
        FileNotFoundError: ``path`` does not exist (``'<what> not found: <path>'``).
        ValueError: the file is not valid UTF-8 JSON (names the file and the position).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'{path} is not valid JSON: {err}') from err
