import rag


def test_all_lists_exactly_the_public_names():
    public = {name for name in dir(rag) if not name.startswith("_")}
    modules = {"citations", "engine", "errors", "retrieve", "settings", "extract", "refusal", "conversation",
               "generate", "rerank", "evidence", "reader", "onnx", "testing"}
    assert set(rag.__all__) == public - modules
    assert set(rag.__all__) == set(rag._EXPORTS)  # every public name is loaded lazily from its module


def test_importing_the_command_line_loads_no_engine():
    import subprocess
    import sys

    code = ("import sys, ui.cli; heavy = [m for m in ('numpy', 'torch', 'rag.engine', 'faiss') if m in sys.modules];"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # `seedrag --help` stays instant: names load on first use (PEP 562)
    for name in rag.__all__:
        assert getattr(rag, name) is not None


def test_readme_python_example_runs(seed_rag, tmp_path):
    from rag import RAG

    reopened = RAG.open(seed_rag.store.path)
    answer = reopened.ask("What is the range of the ATACMS missile?")
    assert "190" in answer.text and answer.citations
    assert reopened.retrieve("ATACMS range", k=5)
