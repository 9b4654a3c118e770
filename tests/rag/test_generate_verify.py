"""The LLM's answerability check: its prompt, and how its reply is read."""

from __future__ import annotations

import pytest

from rag.generate.testing import FakeGenerator
from rag.generate.verify import VERIFY_SYSTEM, states_answer, verify_messages
from ui.render import answer_markdown


@pytest.mark.parametrize(("reply", "verdict"), [
    ("yes", True), ("Yes.", True), (" YES, it does", True), ("no", False), ("No.", False), ("\n- no", False),
    ("Perhaps", None), ("", None), ("nobody knows", None), ("yesterday", None),
])
def test_the_reply_is_read_as_yes_no_or_neither(reply, verdict):
    gen = FakeGenerator(reply)
    assert states_answer("How far can ATACMS fly?", "ATACMS can fly 190 miles.", gen) is verdict
    (messages,) = gen.calls
    assert messages == verify_messages("How far can ATACMS fly?", "ATACMS can fly 190 miles.")
    assert messages[0] == {"role": "system", "content": VERIFY_SYSTEM}


def test_a_not_stated_refusal_says_why_in_the_chat():
    from rag.engine import Answer

    answer = Answer("q", "I could not find the answer in the documents.", True, (), (), fallback="not_stated")
    text = answer_markdown(answer)
    assert text.startswith("**Not in the documents.**")
    assert "not_stated: the LLM found that the best passage does not state the answer" in text
