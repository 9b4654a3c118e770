import pytest

from rag.errors import ConfigError
from rag.settings import Settings


def test_env_variables_are_read_and_typed():
    s = Settings.from_env({"SEEDRAG_K": "7", "SEEDRAG_INDEX_DIR": "/tmp/x", "SEEDRAG_REFUSAL_THRESHOLD": "0.3",
                           "OTHER": "ignored"})
    assert (s.k, s.index_dir, s.refusal_threshold) == (7, "/tmp/x", 0.3)


def test_overrides_win_over_env_and_none_means_unset():
    s = Settings.from_env({"SEEDRAG_K": "7"}, k=2, index_dir=None)
    assert s.k == 2 and s.index_dir == ".seedrag"


def test_unknown_keys_are_rejected_with_the_known_ones():
    with pytest.raises(ConfigError, match="SEEDRAG_INDEX_DIR"):
        Settings.from_env({"SEEDRAG_INDX_DIR": "x"})
    with pytest.raises(ConfigError, match="Known: index_dir"):
        Settings().replace(nope=1)


@pytest.mark.parametrize(("kw", "message"), [
    ({"chunk_overlap": 200}, "chunk_overlap"),
    ({"k": 0}, "k must be greater than 0. Currently, k is 0"),
    ({"fusion": "max"}, "fusion must be"),
    ({"port": 0}, "port"),
])
def test_relations_are_checked_at_construction(kw, message):
    with pytest.raises(ConfigError, match=message):
        Settings(**kw)


def test_non_numbers_in_env_are_a_clear_error():
    with pytest.raises(ConfigError, match="SEEDRAG_K must be a whole number"):
        Settings.from_env({"SEEDRAG_K": "five"})


def test_replace_can_reset_a_setting_to_none():
    assert Settings(refusal_threshold=0.3).replace(refusal_threshold=None).refusal_threshold is None


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("true", True), ("On", True), ("0", False), ("no", False)])
def test_yes_no_settings_read_from_env(raw, value):
    assert Settings.from_env({"SEEDRAG_LLM_VERIFY": raw}).llm_verify is value


def test_a_yes_no_setting_that_is_neither_is_a_clear_error():
    with pytest.raises(ConfigError, match="SEEDRAG_LLM_VERIFY must be 1 or 0"):
        Settings.from_env({"SEEDRAG_LLM_VERIFY": "maybe"})


def test_every_setting_is_parsed_by_its_type_and_a_literal_names_its_values():
    from rag.settings import Settings

    s = Settings.from_env({"SEEDRAG_FUSION": "rrf", "SEEDRAG_LLM_FALLBACK": "refuse", "SEEDRAG_LLM_VERIFY": "yes",
                           "SEEDRAG_DENSE_WEIGHT": "0.25", "SEEDRAG_PORT": "8080", "SEEDRAG_LLM": "",
                           "SEEDRAG_EMBEDDING_BACKEND": "onnx"})
    assert (s.fusion, s.llm_fallback, s.llm_verify, s.dense_weight, s.port, s.llm, s.embedding_backend) == \
        ("rrf", "refuse", True, 0.25, 8080, None, "onnx")
    for env, message in [
        ({"SEEDRAG_FUSION": "max"}, "SEEDRAG_FUSION must be one of 'mix', 'rrf', 'weighted'. Currently, it is 'max'."),
        ({"SEEDRAG_LLM_FALLBACK": "guess"}, "SEEDRAG_LLM_FALLBACK must be one of 'extractive', 'refuse'."),
        ({"SEEDRAG_EMBEDDING_BACKEND": "cuda"}, "SEEDRAG_EMBEDDING_BACKEND must be one of 'auto', 'torch'"),
        ({"SEEDRAG_FUSION": ""}, "SEEDRAG_FUSION is empty. Give it a value (one of mix, rrf, weighted)"),
        ({"SEEDRAG_PORT": "80.5"}, "SEEDRAG_PORT must be a whole number. Currently, it is '80.5'."),
        ({"SEEDRAG_DENSE_WEIGHT": "half"}, "SEEDRAG_DENSE_WEIGHT must be a number."),
    ]:
        with pytest.raises(ConfigError) as caught:
            Settings.from_env(env)
        assert message in str(caught.value)
    with pytest.raises(ConfigError, match="llm_fallback must be one of 'extractive', 'refuse'"):
        Settings(llm_fallback="guess")  # type: ignore[arg-type]


def test_every_setting_is_in_exactly_one_section():
    from dataclasses import fields

    from rag.settings import SECTIONS

    listed = [name for names in SECTIONS.values() for name in names]
    assert sorted(listed) == sorted(f.name for f in fields(Settings))  # none missing, none twice
    s = Settings(port=8000, llm_ctx=2048)
    assert s.section("server")["port"] == 8000 and s.section("llm")["llm_ctx"] == 2048
    assert set(s.section("engine")) == {"k", "fusion", "dense_weight", "refusal_threshold", "reranker"}
    with pytest.raises(ConfigError, match="Unknown settings section 'network'. Known: store, embedding"):
        s.section("network")


def test_the_readme_lists_every_setting_in_its_section():
    import re
    from pathlib import Path

    from rag.settings import PREFIX, SECTIONS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Configuration"):readme.index("## Web chat")]
    listed = {var: row.split("|")[1].strip() for row in table.splitlines() if row.startswith("| ")
              for var in re.findall(r"`(SEEDRAG_[A-Z_]+)`", row.split("|")[2])}
    wanted = {PREFIX + name.upper(): section for section, names in SECTIONS.items() for name in names}
    assert {v: s for v, s in listed.items() if v in wanted} == wanted
    assert set(listed) - set(wanted) == {"SEEDRAG_DATA_DIR"}
