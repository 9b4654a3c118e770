"""Follow-up questions made standalone before retrieval.

Without an LLM: a question that leans on the conversation (a pronoun, "and ...", a very short question)
gets the salient words of the previous question added, so "and how far can it fly?" after a question
about ATACMS searches for ATACMS too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.lexical import terms

_ANAPHORA = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|he|him|his|she|her|there|then|the same|such)\b", re.I)
_FOLLOW_ON = re.compile(r"^\s*(and|but|also|what about|how about|so|then|or)\b", re.I)
_WORD = re.compile(r"[\w’'.-]+")


def needs_context(question: str) -> bool:
    return bool(_ANAPHORA.search(question) or _FOLLOW_ON.match(question) or len(terms(question)) <= 1)


def standalone(question: str, history: Sequence[str]) -> str:
    """The question to search for, given earlier user questions (oldest first).

    >>> standalone("and how far can it fly?", ["What is ATACMS?"])
    'and how far can it fly? (ATACMS)'
    """
    if not history or not needs_context(question):
        return question
    own = set(terms(question))
    for previous in reversed(history):
        salient = [w.strip(".,;:?!") for w in _WORD.findall(previous)
                   if terms(w) and not set(terms(w)) & own and not _ANAPHORA.fullmatch(w)]
        salient = [w for w in salient if w[:1].isupper() or w.isupper() or len(w) > 3]
        words = list(dict.fromkeys(w for w in salient if w.lower() not in _QUESTION_WORDS))
        if words:
            return f"{question} ({' '.join(words)})"
    return question


_QUESTION_WORDS = {"what", "who", "when", "where", "why", "how", "which", "does", "did", "is", "are", "was",
                   "were", "can", "could", "would", "should", "the"}
