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
