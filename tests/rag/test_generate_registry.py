"""The Generator contract, the name registry and the `seedrag.generators` entry-point group."""

from __future__ import annotations

import textwrap

import pytest

from index.errors import GeneratorError, SeedragError
from rag.generate import ENTRY_POINT_GROUP, available, get_generator
from rag.generate.testing import FakeGenerator, GeneratorContract, write_random_gguf

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say something."}]


@pytest.fixture(scope="module", params=["fake", "llama-cpp"])
def backend(request, tmp_path_factory):
    """Every in-process backend must pass the same contract tests."""
    if request.param == "fake":
        return FakeGenerator("Something short and true.")
    pytest.importorskip("llama_cpp", reason="pip install 'seedrag[llm]'")
    pytest.importorskip("gguf", reason="pip install gguf")
    path = write_random_gguf(tmp_path_factory.mktemp("contract") / "random.gguf")
    return get_generator("llama-cpp", model=str(path), n_ctx=256, n_threads=1)  # see test_generate_backends


class TestGeneratorContract(GeneratorContract):
    """The shipped backends pass the contract (rag/generate/testing.py)."""


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(GeneratorError) as info:
        get_generator("gpt-17")
    message = str(info.value)
    assert isinstance(info.value, SeedragError)
    for name in ("llama-cpp", "openai", "qwen2.5-1.5b", "qwen2.5-0.5b", "smollm2-135m", ENTRY_POINT_GROUP):
        assert name in message


def test_builtins_are_listed_and_construct_without_loading_anything():
    names = available()
    assert names["llama-cpp"] == "built-in" and names["openai"] == "built-in" and names["qwen2.5-1.5b"] == "model"
    g = get_generator("openai", base_url="http://127.0.0.1:9/v1", model="m")
    assert g.name == "openai"  # nothing was contacted: construction is cheap


def test_misconfiguration_is_reported_with_the_fix(tmp_path):
    with pytest.raises(GeneratorError, match="needs a model file: pass --model"):
        get_generator("llama-cpp")
    with pytest.raises(GeneratorError, match="not installed .*seedrag llm install qwen2.5-0.5b"):
        get_generator("qwen2.5-0.5b", models_dir=str(tmp_path))
    with pytest.raises(GeneratorError, match="Unknown generator option .*Known options: model"):
        get_generator("openai", colour="blue")
    with pytest.raises(GeneratorError, match="llm_ctx must be at least 256"):
        get_generator("openai", n_ctx=10)


def test_an_installed_model_name_runs_llama_cpp_on_its_file(tmp_path):
    from rag.generate.models import CATALOG

    (tmp_path / CATALOG["smollm2-135m"].file).write_bytes(b"")  # only the path is resolved here
    g = get_generator("smollm2-135m", models_dir=str(tmp_path))
    assert g.name == "smollm2-135m" and g.path == tmp_path / CATALOG["smollm2-135m"].file


def _plugin(root, module_body, name="echo"):
    """A third-party distribution on sys.path: a module and a dist-info declaring the entry point."""
    module = f"seedrag_{name}_plugin"
    (root / f"{module}.py").write_text(textwrap.dedent(module_body))
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = {module}:create\n")


def test_a_third_party_package_adds_a_backend_through_the_entry_point_group(tmp_path, monkeypatch):
    _plugin(tmp_path, """
        from rag.generate.testing import FakeGenerator

        def create(config):
            return FakeGenerator(f"echo from {config.base_url}", name="echo")
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert available()["echo"] == "plugin seedrag-echo-plugin"
    g = get_generator("echo", base_url="http://example.invalid")
    assert g.generate(MESSAGES) == "echo from http://example.invalid"
    assert "echo" in str(pytest.raises(GeneratorError, get_generator, "nope").value)


def test_a_broken_plugin_is_reported_as_the_plugins_fault(tmp_path, monkeypatch):
    _plugin(tmp_path, "raise ImportError('missing dependency xyz')\n", name="broken")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(GeneratorError, match="plugin 'broken' .*failed to load: missing dependency xyz"):
        get_generator("broken")


def test_a_plugin_cannot_replace_a_builtin(tmp_path, monkeypatch):
    _plugin(tmp_path, "def create(config):\n    raise AssertionError('must not be called')\n", name="openai")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert available()["openai"] == "built-in"
    assert get_generator("openai").name == "openai"
