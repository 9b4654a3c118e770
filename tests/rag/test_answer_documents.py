"""Answers over real-format documents (hard-wrapped Markdown, HTML with chrome, a typeset PDF) through the real
model, FAISS index and cross-encoder: whole sentences across wraps, never a heading, the section shown."""

from __future__ import annotations

import pytest

from tests.documents import FERRY_LINES, make_pdf
from tests.index.test_loaders import CHROME_PAGE

NOTES = ("# Port Adle\n\n## The pier\n\n" + "\n".join(FERRY_LINES) + "\n\n## Winter\n\nIn winter the ferries stop "
         "running when the\nwind is stronger than force eight, and the island is then supplied by\nhelicopter.\n")


@pytest.fixture(scope="module")
def docs_rag(tmp_path_factory, embedder):
    from index.stores.faiss import FaissStore
    from rag.engine import RAG

    root = tmp_path_factory.mktemp("realdocs")
    docs = root / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text(NOTES)
    (docs / "ferries.html").write_text(CHROME_PAGE)
    (docs / "island.pdf").write_bytes(make_pdf([["The island has one road. It runs from the jetty to the light-",
                                                 "house, a distance of six kilometres."]]))
    rag = RAG(FaissStore(root / "index"), embedder=embedder)
    rag.index([docs])
    return rag


def check_whole_sentence(rag, answer, *golds):
    assert not answer.refused, answer
    c = answer.citations[0]
    doc = rag.document(c.source)
    assert doc.text[c.start:c.end] == c.quote
    block = doc.block_at(c.start)
    assert block.kind not in ("heading", "code", "term")
    assert c.quote.rstrip().endswith((".", "!", "?")), c.quote  # ends where the sentence ends, not at a wrap
    for gold in golds:
        assert gold in " ".join(answer.text.split())


def test_a_hard_wrapped_sentence_is_answered_whole(docs_rag):
    answer = docs_rag.ask("When do the ferries leave?")
    check_whole_sentence(docs_rag, answer, "7:00", "16:30")
    assert "\n" in answer.citations[0].quote and "\n" not in answer.text  # the quote is exact, the answer reads
    assert answer.citations[0].section == "Port Adle › The pier" and answer.section == "Port Adle › The pier"
    assert 0 < answer.confidence <= 1


def test_half_sentences_of_the_wrap_are_gone(docs_rag):
    answer = docs_rag.ask("How long is the pier?")
    check_whole_sentence(docs_rag, answer, "88 metres")
    assert answer.citations[0].quote.startswith("The pier at Port Adle was rebuilt in 1998")


def test_a_question_that_names_a_heading_gets_a_body_sentence(docs_rag):
    answer = docs_rag.ask("What happens to the ferries in winter?")
    check_whole_sentence(docs_rag, answer, "force eight")
    assert answer.citations[0].section.endswith("Winter")


def test_html_answers_come_from_the_main_content(docs_rag):
    answer = docs_rag.ask("How much does a ticket cost?")
    check_whole_sentence(docs_rag, answer, "4 euros")
    assert answer.citations[0].source.endswith("ferries.html")
    assert answer.citations[0].section == "Ferries › Tickets"


def test_a_pdf_sentence_across_a_hyphenated_line_end(docs_rag):
    answer = docs_rag.ask("How far is the lighthouse from the jetty?")
    check_whole_sentence(docs_rag, answer, "six kilometres")
    assert answer.citations[0].page == 1


@pytest.mark.parametrize("question", [
    "What is the name of the ferry captain?",
    "How many passengers can the ferry carry?",
])
def test_near_topic_questions_the_documents_do_not_answer_are_refused(docs_rag, question):
    assert docs_rag.ask(question).refused


def test_the_chat_shows_the_section_and_the_confidence(docs_rag):
    from ui.render import answer_markdown, confidence_label

    answer = docs_rag.ask("When do the ferries leave?")
    shown = answer_markdown(answer)
    assert "§ Port Adle › The pier" in shown
    assert f"confidence: **{confidence_label(answer.confidence)}** (P(right) {answer.confidence:.2f})" in shown
    assert "its northern end" in shown  # the hard-wrapped quote is shown on one line
    assert [confidence_label(p) for p in (0.9, 0.6, 0.2)] == ["high", "medium", "low"]
    assert answer.to_json()["confidence"] == round(answer.confidence, 4)


def test_asking_embeds_the_question_and_nothing_else(docs_rag, monkeypatch):
    """The sentences' vectors were stored at index time: a question costs one embedding call, its own."""
    embedded: list[str] = []
    real = docs_rag.embedder.embed_documents
    monkeypatch.setattr(docs_rag.embedder, "embed_documents", lambda texts: embedded.extend(texts) or real(texts))
    answer = docs_rag.ask("When do the ferries leave?")
    check_whole_sentence(docs_rag, answer, "7:00", "16:30")
    assert embedded == []


def test_a_store_written_before_sentence_vectors_still_answers(docs_rag):
    """A third-party store without `sentence_vectors` (the contract before it): sentences are embedded when asked."""
    from rag.engine import RAG

    class Older:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            if name == "sentence_vectors":
                raise AttributeError(name)
            return getattr(self._inner, name)

    rag = RAG(Older(docs_rag.store), embedder=docs_rag.embedder)
    assert not hasattr(rag.store, "sentence_vectors")
    answer = rag.ask("When do the ferries leave?")
    check_whole_sentence(rag, answer, "7:00", "16:30")
    assert answer.text == docs_rag.ask("When do the ferries leave?").text


def test_a_store_missing_part_of_the_contract_is_named_at_once(docs_rag):
    """Before, a store without `lexical_model` answered with every idf 1.0 (another calibration)."""
    import pytest

    from index.errors import StoreError
    from rag.engine import RAG

    class Partial:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            if name in ("lexical_model", "close"):
                raise AttributeError(name)
            return getattr(self._inner, name)

    with pytest.raises(StoreError, match="Partial lacks lexical_model, close of the Store contract"):
        RAG(Partial(docs_rag.store), embedder=docs_rag.embedder)
