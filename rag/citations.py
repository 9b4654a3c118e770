"""Citations: exact character spans of a source, verified against the source text before anyone sees them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from index.documents import Document


@dataclass(frozen=True)
class Citation:
    """`quote == document(source).text[start:end]`, checked by `verify`. `n` is the [n] marker in the answer."""

    n: int
    source: str
    start: int
    end: int
    quote: str
    page: int | None = None
    section: str = ""  # heading path over the quote ("" for documents without headings)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("n")
        return {"n": self.n, **data}


@dataclass(frozen=True)
class Highlight:
    """The phrase of the cited sentence that answers: `text == document(source).text[start:end]`, inside the
    first citation's span (verified like a citation before anyone sees it)."""

    source: str
    start: int
    end: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def verify_highlight(highlight: Highlight, citation: Citation, document: Document | None) -> bool:
    """True only when the phrase lies inside the citation and is exactly the document's text there."""
    if document is None or highlight.source != citation.source or not highlight.text.strip():
        return False
    if not citation.start <= highlight.start < highlight.end <= citation.end:
        return False
    return document.text[highlight.start:highlight.end] == highlight.text


def marked(quote: str, start: int, end: int, before: str, after: str) -> str:
    """`quote` on one line (whitespace runs collapsed) with `quote[start:end]` wrapped in `before`/`after`."""
    def norm(s: str) -> str:
        return " ".join(s.split())

    head, phrase, tail = quote[:start], quote[start:end], quote[end:]
    out = norm(head)
    if out and (head[-1:].isspace() or phrase[:1].isspace()):
        out += " "
    out += before + norm(phrase) + after
    rest = norm(tail)
    if rest:
        out += (" " if tail[:1].isspace() or phrase[-1:].isspace() else "") + rest
    return out


def verify(citation: Citation, document: Document | None) -> bool:
    """True only when the cited span of the document is exactly the quote."""
    if document is None or not citation.quote:
        return False
    if not 0 <= citation.start < citation.end <= len(document.text):
        return False
    return document.text[citation.start:citation.end] == citation.quote


def verified(
    citations: Sequence[Citation], lookup: Callable[[str], Document | None]
) -> tuple[list[Citation], list[Citation]]:
    """Split citations into (kept, dropped) by `verify`."""
    kept: list[Citation] = []
    dropped: list[Citation] = []
    for c in citations:
        (kept if verify(c, lookup(c.source)) else dropped).append(c)
    return kept, dropped
