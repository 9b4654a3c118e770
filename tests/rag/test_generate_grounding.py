"""Grounding of LLM answers: a canned-text generator at the edge, the real embedding model and seed index."""

from __future__ import annotations

import pytest

from index.errors import GeneratorError
from index.tokens import count_tokens
from rag.generate import generate_answer, rewrite_question
from rag.generate.prompt import SYSTEM, grounded_messages, pack_passages, passage_text
from rag.generate.testing import FakeGenerator
from rag.refusal import REFUSAL_TEXT

QUESTION = "What is the range of the ATACMS missile?"


@pytest.fixture(scope="module")
def passages(seed_rag):
    """The seed article's passages for the range question, the one holding the answer first."""
    hits = seed_rag.retrieve(QUESTION, k=5)
    hits.sort(key=lambda h: "190 miles" not in h.text)
    assert "190 miles" in hits[0].text and len(hits) >= 3
    return hits


def ask(seed_rag, embedder, passages, reply, **kw):
    return generate_answer(QUESTION, passages, FakeGenerator(reply), embedder, seed_rag.document, **kw)


def assert_exact(seed_rag, answer):
    for c in answer.citations:
        assert seed_rag.document(c.source).text[c.start:c.end] == c.quote


def test_a_supported_answer_keeps_a_verified_citation_to_the_best_sentence(seed_rag, embedder, passages):
    a = ask(seed_rag, embedder, passages, "The ATACMS missile has a range of up to 190 miles (300 kilometers) [1].")
    assert a.fallback is None and not a.refused
    assert a.text == "The ATACMS missile has a range of up to 190 miles (300 kilometers). [1]"
    (c,) = a.citations
    assert c.n == 1 and "190 miles (300 kilometers)" in c.quote and c.quote.startswith("The authorization")
    assert_exact(seed_rag, a)
    (s,) = a.sentences
    assert s.supported and s.cited == (1,) and s.passages == (1,) and s.score > 0.8


def test_an_invented_citation_is_removed_and_reported(seed_rag, embedder, passages):
    a = ask(seed_rag, embedder, passages, "ATACMS can strike targets up to 190 miles away [1][7].")
    assert a.invalid_citations == (7,)
    assert "[7]" not in a.text and a.text.endswith("[1]") and len(a.citations) == 1
    assert a.sentences[0].passages == (1,)
    assert_exact(seed_rag, a)


def test_a_sentence_whose_cited_passage_does_not_support_it_is_flagged(seed_rag, embedder, passages):
    reply = ("The authorization allows Ukraine to use ATACMS on targets within Russia [1]. "
             "Zelensky said that rockets speak for themselves [1]. "
             "Each missile costs about 1.5 million dollars [2].")
    a = ask(seed_rag, embedder, passages, reply)
    assert [s.supported for s in a.sentences] == [True, False, False]
    assert a.unsupported == ("Zelensky said that rockets speak for themselves.",
                             "Each missile costs about 1.5 million dollars.")
    assert a.text == "The authorization allows Ukraine to use ATACMS on targets within Russia. [1]"
    assert a.fallback is None


def test_a_changed_figure_is_not_supported_even_with_the_passage_wording(seed_rag, embedder, passages):
    a = ask(seed_rag, embedder, passages, "ATACMS has a range of up to 500 miles (800 kilometers) [1].")
    assert not a.sentences[0].supported and a.fallback == "unsupported" and a.text == REFUSAL_TEXT


def test_an_answer_with_no_supported_sentence_becomes_a_refusal_with_a_fallback_flag(seed_rag, embedder, passages):
    a = ask(seed_rag, embedder, passages, "The missiles are made by Lockheed Martin in Texas [1].")
    assert a.refused and a.fallback == "unsupported"
    assert a.text == REFUSAL_TEXT and a.citations == ()
    assert a.raw_text == "The missiles are made by Lockheed Martin in Texas [1]."


@pytest.mark.parametrize(("question", "reply"), [
    ("How much does a single ATACMS missile cost?", "A single ATACMS missile costs up to 190 miles (300 kilometers)."),
    ("How many North Korean troops are in Kursk?",
     "The authorization allows Ukraine to use ATACMS on targets within Russia [1]."),
])
def test_a_supported_sentence_that_does_not_answer_the_question_is_a_mismatch(seed_rag, embedder, passages,
                                                                               question, reply):
    a = generate_answer(question, passages, FakeGenerator(reply), embedder, seed_rag.document)
    assert a.sentences[0].supported  # true to the passage ...
    assert a.fallback == "mismatch" and a.text == REFUSAL_TEXT and a.citations == ()  # ... but no answer


def test_the_models_own_refusal_is_reported_as_such(seed_rag, embedder, passages):
    a = ask(seed_rag, embedder, passages, "I could not find the answer in the documents.")
    assert a.fallback == "refused" and a.text == REFUSAL_TEXT and a.citations == ()


@pytest.mark.parametrize("reply", ["", "  \n", "[1]", "[1][2]."])
def test_an_answer_with_no_words_is_unsupported(seed_rag, embedder, passages, reply):
    a = ask(seed_rag, embedder, passages, reply)
    assert a.fallback == "unsupported" and a.text == REFUSAL_TEXT and a.sentences == ()


def test_citations_are_renumbered_in_order_and_shared_spans_share_a_number(seed_rag, embedder, passages):
    zelensky = next(i for i, h in enumerate(passages, 1) if "Rockets speak" in h.text)
    reply = (f"Zelensky said that rockets speak for themselves [{zelensky}]. "
             "ATACMS has a range of up to 190 miles [1]. ATACMS has a range of 300 kilometers [1].")
    a = ask(seed_rag, embedder, passages, reply)
    assert [c.n for c in a.citations] == [1, 2]
    assert "Rockets speak" in a.citations[0].quote and "190 miles" in a.citations[1].quote
    assert a.text.count("[1]") == 1 and a.text.count("[2]") == 2 and "[3]" not in a.text
    assert [s.cited for s in a.sentences] == [(1,), (2,), (2,)]
    assert_exact(seed_rag, a)


def test_a_supported_sentence_without_a_marker_gets_the_passage_that_supports_it(seed_rag, embedder, passages):
    a = ask(seed_rag, embedder, passages, "Zelensky said that rockets speak for themselves.")
    assert a.sentences[0].passages == () and a.sentences[0].supported
    assert "Rockets speak" in a.citations[0].quote and a.text.endswith("[1]")
    assert_exact(seed_rag, a)


def test_markers_in_other_forms_are_read(seed_rag, embedder, passages):
    a = ask(seed_rag, embedder, passages, "According to [Passage 1], the range is up to 190 miles. [1, 9]")
    assert a.invalid_citations == (9,) and a.sentences[0].passages == (1,) and a.sentences[0].supported


def test_stream_callback_timing_and_prompt(seed_rag, embedder, passages):
    reply = "The range is up to 190 miles (300 kilometers) [1]."
    gen = FakeGenerator(reply)
    pieces: list[str] = []
    a = generate_answer(QUESTION, passages, gen, embedder, seed_rag.document, stream_callback=pieces.append)
    assert len(pieces) > 3 and "".join(pieces) == reply == a.raw_text
    assert a.ttft_s is not None and a.ttft_s >= 0 and a.tokens == count_tokens(reply) and a.tokens_per_s
    (messages,) = gen.calls
    assert messages[0] == {"role": "system", "content": SYSTEM} and REFUSAL_TEXT in SYSTEM
    user = messages[1]["content"]
    assert user.index("[1] ") < user.index("[2] ") < user.index(f"Question: {QUESTION}")
    assert a.passages == tuple(passages)


def test_passages_are_packed_best_first_within_the_budget(passages):
    costs = [count_tokens(passage_text(1, h)) + 2 for h in passages]
    packed = pack_passages(QUESTION, passages, budget_tokens=costs[0] + costs[1] + 5)
    assert packed == passages[:2]
    assert pack_passages(QUESTION, passages, budget_tokens=10_000) == passages
    assert pack_passages(QUESTION, passages, budget_tokens=5) == []
    with pytest.raises(GeneratorError, match="budget must be positive"):
        pack_passages(QUESTION, passages, budget_tokens=0)


class SmallContext(FakeGenerator):
    """A generator with a hard context limit, counting ~4 characters a token."""

    def __init__(self, limit: int) -> None:
        super().__init__("unused")
        self.limit = limit

    @property
    def context_length(self) -> int:
        return self.limit

    def count_message_tokens(self, messages):
        return sum(len(m["content"]) // 4 + 4 for m in messages)


def test_packing_respects_the_models_own_context_limit(passages):
    everything = SmallContext(100_000)
    full = everything.count_message_tokens(grounded_messages(QUESTION, passages))
    one = everything.count_message_tokens(grounded_messages(QUESTION, passages[:1]))
    assert pack_passages(QUESTION, passages, 10_000, SmallContext(one + 100), max_tokens=100) == passages[:1]
    assert pack_passages(QUESTION, passages, 10_000, SmallContext(full + 100), max_tokens=100) == passages
    with pytest.raises(GeneratorError, match="context of 50"):
        pack_passages(QUESTION, passages, 10_000, SmallContext(50), max_tokens=100)


def test_nothing_to_ground_on_is_reported(seed_rag, embedder, passages):
    gen = FakeGenerator("anything")
    a = generate_answer(QUESTION, passages, gen, embedder, seed_rag.document, budget_tokens=5)
    assert a.fallback == "no_passages" and a.text == REFUSAL_TEXT and gen.calls == []


def test_follow_ups_are_rewritten_by_the_model():
    gen = FakeGenerator("Standalone question: How far can the ATACMS missile fly?\n")
    rewritten = rewrite_question("and how far can it fly?", ["What is ATACMS?"], gen)
    assert rewritten == "How far can the ATACMS missile fly?"
    assert "What is ATACMS?" in gen.calls[0][1]["content"]


def test_a_rewrite_is_not_needed_without_history_and_garbage_falls_back_to_the_rules():
    gen = FakeGenerator("unused")
    assert rewrite_question("What is ATACMS?", [], gen) == "What is ATACMS?" and gen.calls == []
    for garbage in ("   ", "What is ATACMS?", "ATACMS flies 190 miles.", "Bonjour?"):
        assert rewrite_question("and how far can it fly?", ["What is ATACMS?"], FakeGenerator(garbage)) == \
            "and how far can it fly? (ATACMS)", garbage
