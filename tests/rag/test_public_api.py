import rag


def test_all_lists_exactly_the_public_names():
    public = {name for name in dir(rag) if not name.startswith("_")}
    modules = {"citations", "engine", "errors", "retrieve", "settings", "extract", "refusal", "conversation",
               "cli", "generate", "rerank", "evidence"}
    assert set(rag.__all__) == public - modules
    for name in rag.__all__:
        assert getattr(rag, name) is not None


def test_readme_python_example_runs(seed_rag, tmp_path):
    from rag import RAG

    reopened = RAG.open(seed_rag.store.path)
    answer = reopened.ask("What is the range of the ATACMS missile?")
    assert "190" in answer.text and answer.citations
    assert reopened.retrieve("ATACMS range", k=5)
