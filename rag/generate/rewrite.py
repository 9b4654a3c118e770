"""Follow-up questions made standalone by the LLM (the rule-based `rag.conversation.standalone` is the
fallback when the model's rewrite is unusable)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.lexical import terms
from rag.conversation import standalone
from rag.generate.base import Generator
from rag.generate.prompt import rewrite_messages

MAX_REWRITE_CHARS = 300
_LABEL = re.compile(r"^\s*(standalone question|rewritten question|question)\s*:\s*", re.I)


def rewrite_question(question: str, history: Sequence[str], generator: Generator, max_tokens: int = 64) -> str:
    """`question` rewritten to stand alone, given earlier user questions (oldest first).

    Without history the question is returned as is (no model call). A rewrite that is empty, too long,
    not a question, a copy of an earlier question (small models do that), or shares no word with the
    conversation is replaced by the rule-based rewrite.

    >>> from rag.generate.testing import FakeGenerator
    >>> rewrite_question("And how far can it fly?", ["What is ATACMS?"],
    ...                  FakeGenerator("How far can the ATACMS missile fly?"))
    'How far can the ATACMS missile fly?'
    """
    earlier = [q for q in history if q and q.strip()]
    if not earlier:
        return question
    raw = generator.generate(rewrite_messages(question, earlier), max_tokens=max_tokens, temperature=0.0)
    line = next((ln for ln in raw.strip().splitlines() if ln.strip()), "")
    line = _LABEL.sub("", line).strip().strip("\"'“”").strip()
    said = set(terms(question + " " + " ".join(earlier)))
    repeated = _norm(line) in {_norm(q) for q in earlier} and _norm(line) != _norm(question)
    if not line or len(line) > MAX_REWRITE_CHARS or "?" not in line or repeated or not set(terms(line)) & said:
        return standalone(question, earlier)
    return line


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))
