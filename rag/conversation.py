"""Follow-up questions made standalone before retrieval.

Without an LLM: a question that leans on the conversation (a pronoun, "and ...", a very short question)
gets the previous answer's phrase and the salient words of the previous question added, so "and how far
can it fly?" after a question about ATACMS searches for ATACMS too, and "and what did he say?" after
"Who is the president of Ukraine?" (answered "Volodymyr Zelensky") searches for Zelensky.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.lexical import terms

_ANAPHORA = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|he|him|his|she|her|there|then|the same|such)\b", re.I)
_FOLLOW_ON = re.compile(r"^\s*(and|but|also|what about|how about|so|then|or)\b", re.I)
_WORD = re.compile(r"[\w’'.-]+")
_DANGLING = re.compile(r"\b(?:by|of|for|from|to|with|about|in|on|at)\s+(?:whom|who|what|which|where|when)\W*$", re.I)


def needs_context(question: str) -> bool:
    return bool(_ANAPHORA.search(question) or _FOLLOW_ON.match(question) or _DANGLING.search(question)
                or len(terms(question)) <= 1)


@dataclass(frozen=True)
class Turn:
    """An earlier exchange: the user's question and, when it was answered, the answer phrase
    (`Answer.highlight.text`; "" when refused or unknown)."""

    question: str
    phrase: str = ""


def turns(history: Sequence[str | Turn]) -> list[Turn]:
    """History items as Turns (a plain string is a question whose answer is unknown)."""
    return [h if isinstance(h, Turn) else Turn(h) for h in history]


def questions(history: Sequence[str | Turn]) -> list[str]:
    return [t.question for t in turns(history)]


MAX_PHRASE_WORDS = 8  # a longer phrase is a clause, not a name to carry over


def standalone(question: str, history: Sequence[str | Turn]) -> str:
    """The question to search for, given the earlier turns (oldest first): the latest turn's answer phrase
    (when it is short) and its question's salient words added to a question that leans on them.

    >>> standalone("and how far can it fly?", ["What is ATACMS?"])
    'and how far can it fly? (ATACMS)'
    >>> standalone("and what did he say?", [Turn("Who is the president of Ukraine?", "Volodymyr Zelensky")])
    'and what did he say? (Volodymyr Zelensky president Ukraine)'
    """
    if not history or not needs_context(question):
        return question
    own = set(terms(question))
    for previous in reversed(turns(history)):
        carried = previous.phrase if 0 < len(previous.phrase.split()) <= MAX_PHRASE_WORDS else ""
        words = _salient(carried, own, keep_all=True) + _salient(previous.question, own)
        words = list(dict.fromkeys(words))
        if words:
            return f"{question} ({' '.join(words)})"
    return question


def _salient(text: str, own: set[str], keep_all: bool = False) -> list[str]:
    """The words of `text` worth searching with that the question does not already hold: capitalised words,
    acronyms and longer words (every content word of an answer phrase with `keep_all`)."""
    words = [w.strip(".,;:?!()\"“”") for w in _WORD.findall(text)
             if terms(w) and not set(terms(w)) & own and not _ANAPHORA.fullmatch(w)]
    if not keep_all:
        words = [w for w in words if w[:1].isupper() or w.isupper() or len(w) > 3]
    return [w for w in words if w and w.lower() not in _QUESTION_WORDS]


_QUESTION_WORDS = {"what", "who", "when", "where", "why", "how", "which", "does", "did", "is", "are", "was",
                   "were", "can", "could", "would", "should", "the"}
