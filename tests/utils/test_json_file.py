"""read_json: the shared reader of JSON inputs names the file and its role in every error."""
import pytest

from clipdense.utils import read_json


def test_read_json_content_and_errors(tmp_path):
    good = tmp_path / 'good.json'
    good.write_text('{"a": [1, 2]}', encoding='utf-8')
    assert read_json(str(good)) == {'a': [1, 2]}
    with pytest.raises(FileNotFoundError, match='proposal file not found: .*missing.json'):
        read_json(str(tmp_path / 'missing.json'), 'proposal file')
    broken = tmp_path / 'broken.json'
    broken.write_text('{"a": ', encoding='utf-8')
    with pytest.raises(ValueError, match='broken.json is not valid JSON'):
        read_json(str(broken))
    latin1 = tmp_path / 'latin1.json'
    latin1.write_bytes('{"name": "caf\xe9"}'.encode('latin-1'))
    with pytest.raises(ValueError, match='latin1.json is not valid JSON'):
        read_json(str(latin1))
