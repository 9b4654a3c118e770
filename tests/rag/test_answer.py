import pytest

from rag.citations import Citation, verify
from rag.errors import ConfigError
from rag.refusal import REFUSAL_TEXT


def test_atacms_range_is_answered_with_an_exact_citation(seed_rag):
    answer = seed_rag.ask("What is the range of the ATACMS missile?")
    assert not answer.refused
    assert "190 miles" in answer.text and answer.text.endswith("[1]")
    (c,) = answer.citations
    doc = seed_rag.document(c.source)
    assert doc.text[c.start:c.end] == c.quote
    assert "190 miles (300 kilometers)" in c.quote
    assert c.source.endswith(".txt") and c.page is None


def test_retrieve_returns_passages_with_offsets_and_scores(seed_rag):
    hits = seed_rag.retrieve("ATACMS range", k=3)
    assert 1 <= len(hits) <= 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for h in hits:
        assert seed_rag.document(h.source).text[h.start:h.end] == h.text
    assert any("190 miles" in h.text for h in hits)


@pytest.mark.parametrize("question", [
    "What is the capital of France?",
    "How long should I boil spaghetti?",
])
def test_off_topic_questions_are_refused(seed_rag, question):
    answer = seed_rag.ask(question)
    assert answer.refused and answer.text == REFUSAL_TEXT and answer.citations == ()


@pytest.mark.parametrize("question", [
    "How much does a single ATACMS missile cost?",
    "Which company manufactures the ATACMS missile?",
    "How did Donald Trump react to the decision?",
])
def test_near_topic_questions_the_article_does_not_answer_are_refused(seed_rag, question):
    answer = seed_rag.ask(question)
    assert answer.refused, answer.text
    assert answer.passages  # the near passages were still retrieved and can be shown


def test_a_citation_whose_quote_does_not_match_the_source_is_dropped(seed_rag, monkeypatch):
    real = seed_rag._cite

    def shifted(n, candidate, doc):
        c = real(n, candidate, doc)
        return Citation(c.n, c.source, c.start + 1, c.end + 1, c.quote, c.page)

    monkeypatch.setattr(seed_rag, "_cite", shifted)
    answer = seed_rag.ask("What is the range of the ATACMS missile?")
    assert answer.citations == () and answer.dropped_citations == 1
    assert answer.refused  # an answer without a verified citation is never shown as an answer


def test_verify_checks_exact_characters(seed_rag):
    doc = seed_rag.document(seed_rag.documents()[0])
    good = Citation(1, doc.source, 0, 5, doc.text[:5])
    assert verify(good, doc)
    assert not verify(Citation(1, doc.source, 0, 5, doc.text[:4] + "X"), doc)
    assert not verify(Citation(1, doc.source, -1, 5, doc.text[:5]), doc)
    assert not verify(Citation(1, doc.source, 0, len(doc.text) + 5, doc.text), doc)
    assert not verify(good, None)


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_empty_questions_are_a_clear_error(seed_rag, bad):
    with pytest.raises(ConfigError, match="question is empty"):
        seed_rag.ask(bad)


def test_bad_k_is_a_clear_error(seed_rag):
    with pytest.raises(ConfigError, match="k must be"):
        seed_rag.retrieve("ATACMS", k=0)


def test_answer_json_has_the_documented_shape(seed_rag):
    data = seed_rag.ask("Who authorized Ukraine to use the missiles?").to_json()
    assert {"answer", "refused", "citations", "passages"} <= set(data)
    assert set(data["citations"][0]) >= {"source", "start", "end", "quote", "page"}
    assert "Biden" in data["answer"]


def test_settings_are_read_only_and_with_settings_makes_a_new_engine(seed_rag):
    import pytest

    from rag.errors import ConfigError

    with pytest.raises(AttributeError):
        seed_rag.settings = seed_rag.settings.replace(k=3)
    never = seed_rag.with_settings(refusal_threshold=0.0)
    question = "What is the population of Lisbon?"
    assert seed_rag.ask(question).refused and not never.ask(question).refused  # only the new engine changed
    assert never.embedder is seed_rag.embedder and never.store is seed_rag.store
    with pytest.raises(ConfigError, match="keeps the loaded models"):
        seed_rag.with_settings(reranker="none")


def test_an_engine_no_longer_used_is_freed(seed_rag):
    """No process-wide cache holds an engine (the idf look-ups live with the store, per index version)."""
    import gc
    import weakref

    from rag.engine import RAG

    rag = RAG(seed_rag.store, embedder=seed_rag.embedder)
    assert not rag.ask("What is the range of the ATACMS missile?").refused
    ref = weakref.ref(rag)
    del rag
    gc.collect()
    assert ref() is None
