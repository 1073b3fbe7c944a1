"""mathtrain.importer.hf_source: a Hugging Face folder's JSON files, when broken, are one-line errors."""
import pytest

from mathdata.errors import MathDataError


@pytest.mark.parametrize("content, message", [('{"model_type": "llama",\n "hidden_size": 32,,}', ":2:20: not valid JSON"),
                                              ('["LlamaForCausalLM"]', ": not a JSON object (the file holds an array)")])
def test_broken_config_json(tmp_path, content, message):
    from mathtrain.importer.hf_source import read_hf_dir

    (tmp_path / "config.json").write_text(content, encoding="utf-8")
    with pytest.raises(MathDataError) as err:
        read_hf_dir(tmp_path)
    assert err.value.message.startswith(f"{tmp_path / 'config.json'}{message}")
    assert err.value.hint == "fix or re-download config.json"
