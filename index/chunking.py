"""Token-sized, sentence-aware chunks with exact character offsets.

Chunks are packed from whole sentences up to `chunk_tokens` cl100k tokens, the next chunk repeating
up to `overlap_tokens` of trailing sentences. A heading starts a new chunk once the current one is a
third full, so a section's text is not glued under the previous section's chunk. A sentence longer than
a chunk is cut at token boundaries. Finally every chunk must fit the embedding model's own limit
(`fits`): one that does not is split again, never silently truncated.
Invariant: `document.text[c.start:c.end] == c.text`. Each chunk carries its heading path (`section`),
shown with citations. The path is not embedded or indexed with the chunk: measured, that changed nothing
on the real-documents dev set and cost one seed question (README, "Real documents").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.documents import Document
from index.errors import ConfigError
from index.sentences import Span, split_sentences
from index.tokens import get_encoding


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: `text == document.text[start:end]`."""

    id: str
    source: str
    text: str
    start: int
    end: int
    page: int | None = None
    section: str = ""  # heading path over the chunk's first line: "Data Types › Integer Overflow"


def chunk_id(source: str, start: int, end: int, text: str) -> str:
    return hashlib.sha256(f"{source}\x00{start}\x00{end}\x00{text}".encode()).hexdigest()[:24]


def check_chunk_settings(chunk_tokens: int, overlap_tokens: int) -> None:
    if chunk_tokens < 16:
        raise ConfigError(f"chunk_tokens must be at least 16. Currently, chunk_tokens is {chunk_tokens}.")
    if not 0 <= overlap_tokens < chunk_tokens:
        raise ConfigError(
            f"chunk_overlap must be >= 0 and smaller than chunk_tokens ({chunk_tokens}). "
            f"Currently, chunk_overlap is {overlap_tokens}."
        )


def chunk_text(
    text: str,
    chunk_tokens: int = 200,
    overlap_tokens: int = 40,
    fits: Callable[[Sequence[str]], list[bool]] | None = None,
    heading_starts: Sequence[int] | None = None,
    sentences: list[Span] | None = None,
) -> list[tuple[int, int]]:
    """Return `(start, end)` spans of `text`, each one a chunk.

    `heading_starts`: offsets where headings begin (a chunk prefers to start there). `fits` answers, for a
    batch of texts, whether each fits the embedding model (default: all fit). `sentences`: the text's own
    `split_sentences`, when the caller has them already.

    >>> chunk_text("One. Two. Three.", chunk_tokens=16, overlap_tokens=0)
    [(0, 16)]
    """
    check_chunk_settings(chunk_tokens, overlap_tokens)
    units = _token_units(text, split_sentences(text) if sentences is None else sentences, chunk_tokens)
    spans = _pack(units, chunk_tokens, overlap_tokens, set(heading_starts or ()))
    if fits is not None:
        spans = _enforce_limit(text, spans, fits)
    return spans


def chunk_document(
    doc: Document,
    chunk_tokens: int = 200,
    overlap_tokens: int = 40,
    fits: Callable[[Sequence[str]], list[bool]] | None = None,
    sentences: list[Span] | None = None,
) -> list[Chunk]:
    """Chunk a document; each chunk carries its source, offsets, (PDF) page and heading path. `sentences`:
    the document's `split_sentences`, when the caller has them already."""
    headings = [b.start for b in doc.blocks if b.kind == "heading"]
    return [
        Chunk(
            id=chunk_id(doc.source, start, end, doc.text[start:end]),
            source=doc.source,
            text=doc.text[start:end],
            start=start,
            end=end,
            page=doc.page_at(start),
            section=_section(doc, start, end),
        )
        for start, end in chunk_text(doc.text, chunk_tokens, overlap_tokens, fits, headings, sentences)
    ]


def _section(doc: Document, start: int, end: int) -> str:
    """The heading path of the chunk's first body text (a chunk that opens with a heading is under it)."""
    at = start
    block = doc.block_at(at)
    while block is not None and block.kind == "heading" and block.end < end:
        nxt = doc.block_at(block.end + 2)
        if nxt is None:
            break
        at, block = nxt.start, nxt
    return doc.section_at(at)


def _token_units(text: str, sentences: list[Span], limit: int) -> list[tuple[int, int, int]]:
    """Sentences as (start, end, tokens); a sentence over `limit` tokens is cut at token boundaries."""
    enc = get_encoding()
    units: list[tuple[int, int, int]] = []
    for s in sentences:
        tokens = enc.encode(s.text, disallowed_special=())
        if len(tokens) <= limit:
            units.append((s.start, s.end, len(tokens)))
            continue
        _, offsets = enc.decode_with_offsets(tokens)
        cuts = list(range(0, len(tokens), limit))
        for i, first in enumerate(cuts):
            a = offsets[first]
            b = offsets[cuts[i + 1]] if i + 1 < len(cuts) else len(s.text)
            piece = s.text[a:b]
            lead, trail = len(piece) - len(piece.lstrip()), len(piece.rstrip())
            if piece.strip():
                units.append((s.start + a + lead, s.start + a + trail, min(limit, len(tokens) - first)))
    return units


def _pack(units: list[tuple[int, int, int]], size: int, overlap: int,
          headings: set[int] | frozenset[int] = frozenset()) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (j == i or total + units[j][2] <= size):
            if j > i and units[j][0] in headings and total >= size // 3:
                break  # a new section: start a chunk at its heading
            total += units[j][2]
            j += 1
        spans.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        # start the next chunk with trailing sentences worth at most `overlap` tokens
        back, k = 0, j
        while k - 1 > i and back + units[k - 1][2] <= overlap:
            back += units[k - 1][2]
            k -= 1
        i = k
    return spans


def _enforce_limit(
    text: str, spans: list[tuple[int, int]], fits: Callable[[Sequence[str]], list[bool]]
) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    pending = spans
    while pending:
        verdicts = fits([text[a:b] for a, b in pending])
        retry: list[tuple[int, int]] = []
        for (a, b), ok in zip(pending, verdicts, strict=True):
            if ok or b - a <= 1:
                out.append((a, b))
            else:
                retry.extend(_halve(text, a, b))
        pending = retry
    return sorted(out)


def _halve(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """Split text[a:b] in two at a sentence, else a space, near the middle; trim the edges."""
    inner = split_sentences(text[a:b], a)
    mid = (a + b) // 2
    cut = min((s.start for s in inner[1:]), key=lambda x: abs(x - mid), default=None)
    if cut is None:
        space = text.rfind(" ", a + 1, mid + 1)
        cut = space if space > a else mid
    parts = []
    for x, y in ((a, cut), (cut, b)):
        piece = text[x:y]
        x2, y2 = x + len(piece) - len(piece.lstrip()), x + len(piece.rstrip())
        if y2 > x2:
            parts.append((x2, y2))
    return parts
