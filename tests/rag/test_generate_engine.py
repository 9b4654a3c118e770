"""RAG.ask with a generator: the LLM answer is checked, rejected answers fall back, the calibrated gate holds."""

from __future__ import annotations

import pytest

from rag.engine import RAG, Answer
from rag.generate.prompt import REWRITE_SYSTEM
from rag.generate.testing import FakeGenerator
from rag.generate.verify import VERIFY_SYSTEM
from rag.refusal import REFUSAL_TEXT
from rag.settings import Settings

pytestmark = pytest.mark.skipif(not hasattr(Answer, "fallback"), reason="the engine is not wired to rag.generate yet")

QUESTION = "What is the range of the ATACMS missile?"
GOOD = "The ATACMS missile has a range of up to 190 miles (300 kilometers) [1]."


def llm_rag(seed_rag, embedder, reply, verdict="yes", **settings):
    """A RAG whose LLM answers `reply` and replies `verdict` to the answerability check."""
    def respond(messages):
        if messages[0]["content"] == VERIFY_SYSTEM:
            return verdict
        return reply if isinstance(reply, str) else reply(messages)

    gen = FakeGenerator(respond)
    return RAG(seed_rag.store, embedder=embedder, settings=Settings(**settings), generator=gen), gen


def test_a_supported_llm_answer_is_shown_with_verified_citations(seed_rag, embedder):
    rag, gen = llm_rag(seed_rag, embedder, lambda m: GOOD.replace("[1]", f"[{_passage(m, '190 miles')}]"))
    pieces: list[str] = []
    answer = rag.ask(QUESTION, on_token=pieces.append)
    assert answer.mode == rag.mode == "llm:fake" and not answer.refused and answer.fallback is None
    assert answer.text == "The ATACMS missile has a range of up to 190 miles (300 kilometers). [1]"
    (c,) = answer.citations
    assert seed_rag.document(c.source).text[c.start:c.end] == c.quote and "190 miles" in c.quote
    assert "".join(pieces) == GOOD.replace("[1]", f"[{_passage(gen.calls[-1], '190 miles')}]")
    data = answer.to_json()
    assert data["mode"] == "llm:fake" and data["unsupported"] == [] and data["ttft_s"] is not None


def test_the_llm_answer_phrase_is_a_verified_span_of_its_citation_bold_where_the_llm_says_it(seed_rag, embedder):
    rag, _ = llm_rag(seed_rag, embedder, lambda m: GOOD.replace("[1]", f"[{_passage(m, '190 miles')}]"))
    answer = rag.ask(QUESTION)
    h, (c,) = answer.highlight, answer.citations
    assert answer.mode == "llm:fake" and h is not None and "190 miles" in h.text
    assert c.start <= h.start < h.end <= c.end and seed_rag.document(c.source).text[h.start:h.end] == h.text
    assert len(h.text) < len(c.quote) and answer.to_json()["highlight"]["text"] == h.text
    marked = answer.marked_text()
    assert marked.replace("**", "") == answer.text  # the LLM's words, not the quote
    assert "**" in marked and h.text in marked.split("**")[1]


def test_states_is_the_phrase_said_in_order_case_and_punctuation_aside():
    from rag.engine import states

    assert states("It can fly up to 190 miles (300 kilometers) [1].", "190 miles (300 kilometers)")
    assert states("ATACMS stands for army tactical missile systems.", "Army Tactical Missile Systems")
    assert not states("It can fly 300 kilometers or 190 miles.", "190 miles (300 kilometers)")
    assert not states("The range is 1900 miles.", "190 miles")
    assert not states("Anything", "(,)")


def test_a_rejected_llm_answer_falls_back_to_the_extractive_answer_or_a_refusal(seed_rag, embedder):
    made_up = "Each missile costs 1.5 million dollars [1]."
    rag, _ = llm_rag(seed_rag, embedder, made_up)
    answer = rag.ask(QUESTION)
    assert answer.mode == "extractive" and answer.fallback == "unsupported" and not answer.refused
    assert "190 miles" in answer.text and answer.unsupported == ("Each missile costs 1.5 million dollars.",)
    assert "rejected (unsupported)" in answer.notes[0]
    strict, _ = llm_rag(seed_rag, embedder, made_up, llm_fallback="refuse")
    answer = strict.ask(QUESTION)
    assert answer.refused and answer.text == REFUSAL_TEXT and answer.mode == "llm:fake" and answer.citations == ()


def test_the_calibrated_gate_stops_off_topic_questions_before_the_llm(seed_rag, embedder):
    rag, gen = llm_rag(seed_rag, embedder, "Paris is the capital of France [1].")
    answer = rag.ask("What is the capital of France?")
    assert answer.refused and gen.calls == []


def test_follow_ups_are_rewritten_by_the_llm(seed_rag, embedder):
    def reply(messages):
        if messages[0]["content"] == REWRITE_SYSTEM:
            return "What is the range of the ATACMS missile?"
        return GOOD.replace("[1]", f"[{_passage(messages, '190 miles')}]")

    rag, gen = llm_rag(seed_rag, embedder, reply)
    answer = rag.ask("and how far can it fly?", history=["Which missiles did Biden authorize?"])
    assert answer.standalone_question == QUESTION and answer.mode == "llm:fake"
    assert len(gen.calls) == 2 and VERIFY_SYSTEM not in [c[0]["content"] for c in gen.calls]  # the check is off
    checked, gen = llm_rag(seed_rag, embedder, reply, llm_verify=True)
    assert checked.ask("and how far can it fly?", history=["Which missiles did Biden authorize?"]).mode == "llm:fake"
    assert [c[0]["content"] for c in gen.calls[:2]] == [REWRITE_SYSTEM, VERIFY_SYSTEM] and len(gen.calls) == 3
    assert f"Question: {QUESTION}" in gen.calls[1][1]["content"]  # the check is about the standalone question


def test_the_llm_check_refuses_when_the_best_passage_does_not_state_the_answer(seed_rag, embedder):
    rag, gen = llm_rag(seed_rag, embedder, GOOD, verdict="No.", llm_verify=True)
    answer = rag.ask(QUESTION)
    assert answer.refused and answer.text == REFUSAL_TEXT and answer.citations == ()
    assert answer.fallback == "not_stated" and answer.mode == "llm:fake" and len(gen.calls) == 1
    check = gen.calls[0][1]["content"]
    assert check.startswith("Passage: ") and "190 miles" in check and f"Question: {QUESTION}" in check
    assert answer.to_json()["fallback"] == "not_stated"
    # a reply that is neither yes nor no does not block; with the check off it is not asked at all
    unclear, gen = llm_rag(seed_rag, embedder, lambda m: GOOD.replace("[1]", f"[{_passage(m, '190 miles')}]"),
                           verdict="Perhaps", llm_verify=True)
    assert not unclear.ask(QUESTION).refused and len(gen.calls) == 2
    off, gen = llm_rag(seed_rag, embedder, lambda m: GOOD.replace("[1]", f"[{_passage(m, '190 miles')}]"),
                       verdict="no")  # llm_verify is off by default
    answer = off.ask(QUESTION)
    assert not answer.refused and "190 miles" in answer.text and len(gen.calls) == 1
    assert gen.calls[0][0]["content"] != VERIFY_SYSTEM


def _passage(messages, needle: str) -> int:
    """The number the prompt gives the passage holding `needle`."""
    user = messages[-1]["content"]
    blocks = [b for b in user.split("\n\n[") if needle in b]
    return int(blocks[0].lstrip("[").split("]", 1)[0])
