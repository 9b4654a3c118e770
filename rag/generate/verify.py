"""The LLM as an answerability check: does the passage the extractive answerer chose state the answer?

Small models answer questions their passages do not answer, in words the passages support (SQuAD 2.0's
unanswerable questions are written that way: an entity swapped, a negation added), so the sentence checks
of `grounding` let such answers through. With `llm_verify` on (off by default), before the answer is
generated the model is asked one yes/no question about the single best passage; "no" makes the answer a
refusal (`Answer.fallback == "not_stated"`). A reply that is neither yes nor no does not block. Measured in
README ("SQuAD 2.0 refusal"): more refusals of unanswerable SQuAD 2.0 questions, fewer answers on the seed set.
"""

from __future__ import annotations

import re

from rag.generate.base import Generator, Message

VERIFY_SYSTEM = (
    "You check whether a passage answers a question. Read the passage and the question. If the passage states "
    "the answer to exactly this question, reply: yes. If it does not (it is about something else, or a detail "
    "of the question does not match the passage), reply: no. Reply with one word."
)
NOT_STATED = "the LLM found that the best passage does not state the answer"  # why, for the reader
_YES = re.compile(r"^\W*yes\b", re.I)
_NO = re.compile(r"^\W*no\b", re.I)


def verify_messages(question: str, passage: str) -> list[Message]:
    """The yes/no chat about `passage` and `question`.

    >>> verify_messages("How far can ATACMS fly?", "ATACMS can fly 190 miles.")[1]["content"]
    'Passage: ATACMS can fly 190 miles.\\n\\nQuestion: How far can ATACMS fly?\\n\\nDoes the passage state the answer?'
    """
    user = f"Passage: {passage.strip()}\n\nQuestion: {question}\n\nDoes the passage state the answer?"
    return [{"role": "system", "content": VERIFY_SYSTEM}, {"role": "user", "content": user}]


def states_answer(question: str, passage: str, generator: Generator) -> bool | None:
    """True for the model's "yes", False for "no", None when it said neither."""
    reply = generator.generate(verify_messages(question, passage), max_tokens=3, temperature=0.0)
    if _YES.match(reply):
        return True
    if _NO.match(reply):
        return False
    return None
