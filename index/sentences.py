"""Sentence spans with exact character offsets, across hard-wrapped lines.

A sentence ends where the language ends it (pysbd), not where a line was wrapped. Boundaries that are
layout, not language:

- a blank line ends a block (every loader separates blocks, headings, list items and table rows with one);
- inside a block, a line break is a soft wrap, except before a list item, around a numbered section title
  ("1.2. What is this spec?"), before a line indented deeper (code, a nested item), around a rule line
  (`=====`), after a colon above a short line (a list, table or code follows), and after a line that stands
  alone: one that does not end a sentence, is clearly shorter than the block's wrap width (80th percentile
  of its lines), and is followed by a capital or a digit (a title above a paragraph, the last line of a
  paragraph in a file without blank lines).

Offsets index the original text: a sentence's text may hold the original newline (displays collapse it).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

_BLOCK = re.compile(r"(?:[^\n]|\n(?![ \t]*\n))+")  # runs of lines without a blank line between them
_LINE = re.compile(r"[^\n]+")
_LIST_MARK = re.compile(r"\s*(?:[-*+•‣◦▪]\s|\d{1,3}[.)]\s|[a-z][.)]\s|\(\w{1,3}\)\s)")
_ENDS_SENTENCE = re.compile(r"[.!?:;,…]['\"”’)\]]*$")
_SECTION_NUMBER = re.compile(r"\s*\d{1,2}(?:\.\d{1,2})+\.?\s+[A-Z]")
_RULE = re.compile(r"\s*([=\-~^*#_+])\1{2,}\s*$")
SHORT_LINE = 0.7  # a line shorter than this share of its block's longest line may stand alone


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
    """Split `text` into sentences; offsets are `offset`-based.

    >>> [s.text for s in split_sentences("Mr. Smith came. He left\\nat noon.\\n\\nNext block")]
    ['Mr. Smith came.', 'He left\\nat noon.', 'Next block']
    """
    spans: list[Span] = []
    for start, end in segments(text):
        spans.extend(_split_segment(text[start:end], offset + start))
    return spans


def segments(text: str) -> list[tuple[int, int]]:
    """(start, end) of the runs of `text` that no layout boundary cuts: sentences never cross their edges."""
    out: list[tuple[int, int]] = []
    for block in _BLOCK.finditer(text):
        lines = [(m.start() + block.start(), m.end() + block.start()) for m in _LINE.finditer(block.group())]
        lines = [(a, b) for a, b in lines if text[a:b].strip()]
        if not lines:
            continue
        width = typical_width([len(text[a:b].strip()) for a, b in lines])
        seg_start = lines[0][0]
        for (a, b), (c, d) in zip(lines, lines[1:], strict=False):
            if hard_break(text[a:b], text[c:d], width):
                out.append((seg_start, b))
                seg_start = c
        out.append((seg_start, lines[-1][1]))
    return out


def typical_width(lengths: list[int]) -> int:
    """The width lines are wrapped at: the 80th percentile of their lengths (the longest line may be code)."""
    ordered = sorted(lengths)
    return ordered[min(len(ordered) - 1, int(0.8 * len(ordered)))]


def hard_break(line: str, following: str, width: int) -> bool:
    """Is the line break between `line` and `following` (lines of one block) a boundary?"""
    if _RULE.match(line) or _RULE.match(following) or _LIST_MARK.match(following):
        return True
    for title in (line, following):
        if _SECTION_NUMBER.match(title) and len(title.strip()) < SHORT_LINE * width:
            return True  # "1.2. What is this spec?" is a section title of its own
    if _indent(following) >= _indent(line) + 4:
        return True
    body, nxt = line.strip(), following.lstrip()
    if body.endswith(":") and len(nxt.rstrip()) < SHORT_LINE * width:
        return True  # "...in this format:" above a short line: a list, a table or code follows
    if _ENDS_SENTENCE.search(body):
        return False  # the sentence splitter decides
    return len(body) < SHORT_LINE * width and (nxt[:1].isupper() or nxt[:1].isdigit())


def _indent(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def _split_segment(segment: str, offset: int) -> list[Span]:
    if not segment.strip():
        return []
    flat = segment.replace("\n", " ")  # same length: offsets into `flat` are offsets into `segment`
    # the processor's sentences, without `segment()`'s char-span pass: it regex-searches the whole segment for
    # every sentence (a new pattern each time), 40% of the time; the sentences are the same, found below
    pieces = _segmenter().processor(flat).process() if len(flat) > 1 else [flat]
    spans: list[Span] = []
    cursor = 0
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        at = flat.find(piece, cursor)
        if at < 0:  # the segmenter altered the text; fall back to the remainder as one sentence
            rest = flat[cursor:]
            lead = len(rest) - len(rest.lstrip())
            body = rest.strip()
            if body:
                a = cursor + lead
                spans.append(Span(offset + a, offset + a + len(body), segment[a:a + len(body)]))
            return spans
        spans.append(Span(offset + at, offset + at + len(piece), segment[at:at + len(piece)]))
        cursor = at + len(piece)
    return spans


def clip(sentences: Sequence[Span], text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The parts of `sentences` (of `text`, in order) inside `text[start:end]`, as (start, end) offsets
    without their outer whitespace: a chunk's sentences from its document's, with no second split.

    >>> t = "One two. Three four. Five."
    >>> clip(split_sentences(t), t, 4, 19)
    [(4, 8), (9, 19)]
    """
    first = bisect.bisect_right([s.end for s in sentences], start)
    out = []
    for s in sentences[first:]:
        if s.start >= end:
            break
        a, b = max(s.start, start), min(s.end, end)
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            out.append((a, b))
    return out
