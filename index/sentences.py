"""Sentence spans with exact character offsets (pysbd for the boundaries, our own offset bookkeeping)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_PARAGRAPH = re.compile(r"[^\n]+")


@dataclass(frozen=True)
class Span:
    """A sentence: `text == source_text[start:end]`."""

    start: int
    end: int
    text: str


@functools.cache
def _segmenter():  # type: ignore[no-untyped-def]
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Split `text` into sentences that never cross a line break; offsets are `offset`-based.

    >>> [s.text for s in split_sentences("Mr. Smith came. He left.\\nNext line")]
    ['Mr. Smith came.', 'He left.', 'Next line']
    """
    spans: list[Span] = []
    for para in _PARAGRAPH.finditer(text):
        spans.extend(_split_paragraph(para.group(), offset + para.start()))
    return spans


def _split_paragraph(para: str, offset: int) -> list[Span]:
    if not para.strip():
        return []
    pieces = _segmenter().segment(para) if len(para) > 1 else [para]
    spans: list[Span] = []
    cursor = 0
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        at = para.find(piece, cursor)
        if at < 0:  # the segmenter altered the text; fall back to the remainder as one sentence
            rest = para[cursor:]
            lead = len(rest) - len(rest.lstrip())
            body = rest.strip()
            if body:
                spans.append(Span(offset + cursor + lead, offset + cursor + lead + len(body), body))
            return spans
        spans.append(Span(offset + at, offset + at + len(piece), piece))
        cursor = at + len(piece)
    return spans
