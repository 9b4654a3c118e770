"""Documents and the loader registry.

A loader turns a file's bytes into a `Document`: its text, a map of blocks over the text (heading,
paragraph, list item, code, table row, term) and, for PDFs, where each page starts. Loaders live in
`index.loaders`, one module per format family; `FORMATS` below is the one table of supported file types
(the build, the upload checks and the chat's file picker all read it). A loader raises `DocumentError`
saying why a file cannot be used; the build skips that file with a warning and goes on.

The text is laid out the same way by every loader: blocks separated by a blank line, so the sentence
splitter (`index.sentences`) sees a block boundary in the text itself, and a line break inside a block is
a soft wrap unless the line stands alone (a title, a list item).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.errors import DocumentError

LOADERS_VERSION = "2"  # bump when a loader's output changes: the next build re-reads every file

# block kinds that are structure, never the sentence that answers a question
NOT_ANSWERS = frozenset({"heading", "code", "term", "line"})


@dataclass(frozen=True)
class Block:
    """A block of a document's text: `text[start:end]`, of `kind` heading (with `level` 1-6), paragraph,
    item (of a list), code, table (one row), term (of a definition list), record (a CSV row) or line (a
    lone short line of a PDF: a label, a table cell, code)."""

    start: int
    end: int
    kind: str
    level: int = 0


@dataclass(frozen=True)
class Document:
    """One source file as text. `pages[i]` is the offset where page i+1 starts (PDF only); `blocks` map the
    text's structure (empty for documents indexed before blocks existed)."""

    source: str
    text: str
    content_hash: str
    title: str = ""
    pages: tuple[int, ...] = field(default=())
    blocks: tuple[Block, ...] = field(default=())

    def page_at(self, offset: int) -> int | None:
        """The 1-based PDF page holding character `offset`, or None for documents without pages."""
        if not self.pages:
            return None
        return max(1, bisect.bisect_right(self.pages, offset))

    def block_at(self, offset: int) -> Block | None:
        """The block holding character `offset`, or None (between blocks, or no block map)."""
        i = bisect.bisect_right(self._block_starts, offset) - 1
        if i >= 0 and offset < self.blocks[i].end:
            return self.blocks[i]
        return None

    def headings_at(self, offset: int) -> tuple[str, ...]:
        """The heading path over character `offset`: ("Data Types", "Integer Overflow"), outermost first."""
        i = bisect.bisect_right(self._heading_starts, offset) - 1
        return self._heading_paths[i] if i >= 0 else ()

    def section_at(self, offset: int) -> str:
        """The heading path over `offset` as one line: "Data Types › Integer Overflow" ("" if none)."""
        return " › ".join(self.headings_at(offset))

    @functools.cached_property
    def _block_starts(self) -> list[int]:
        return [b.start for b in self.blocks]

    @functools.cached_property
    def _heading_starts(self) -> list[int]:
        return [b.start for b in self.blocks if b.kind == "heading"]

    @functools.cached_property
    def _heading_paths(self) -> list[tuple[str, ...]]:
        paths: list[tuple[str, ...]] = []
        stack: list[tuple[int, str]] = []
        for b in self.blocks:
            if b.kind != "heading":
                continue
            while stack and stack[-1][0] >= b.level:
                stack.pop()
            stack.append((b.level, " ".join(self.text[b.start:b.end].split())))
            paths.append(tuple(t for _, t in stack))
        return paths


def blocks_to_json(blocks: tuple[Block, ...]) -> list[list[Any]]:
    """A block map as compact JSON rows `[start, end, kind, level]` (how both stores keep it)."""
    return [[b.start, b.end, b.kind, b.level] for b in blocks]


def blocks_from_json(rows: Any) -> tuple[Block, ...]:
    return tuple(Block(int(r[0]), int(r[1]), str(r[2]), int(r[3])) for r in rows or ())


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Format:
    """A family of file types and the loader that reads them (`module:function` in `index.loaders`)."""

    name: str
    suffixes: tuple[str, ...]
    loader: str

    def load(self, data: bytes, source: str) -> Document:
        module, function = self.loader.split(":")
        fn: Callable[[bytes, str], Document] = getattr(importlib.import_module(module), function)
        return fn(data, source)


# The one table of supported file types.
FORMATS: tuple[Format, ...] = (
    Format("text", (".txt", ".text", ".rst"), "index.loaders.text:load"),
    Format("markdown", (".md", ".markdown"), "index.loaders.markdown:load"),
    Format("html", (".html", ".htm", ".xhtml"), "index.loaders.html:load"),
    Format("pdf", (".pdf",), "index.loaders.pdf:load"),
    Format("docx", (".docx",), "index.loaders.docx:load"),
    Format("epub", (".epub",), "index.loaders.epub:load"),
    Format("csv", (".csv", ".tsv"), "index.loaders.csv:load"),
)
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(s for f in FORMATS for s in f.suffixes)
_BY_SUFFIX = {s: f for f in FORMATS for s in f.suffixes}


def format_of(path: str | Path) -> Format | None:
    """The format a file name's suffix selects, or None when it is not supported."""
    return _BY_SUFFIX.get(Path(path).suffix.lower())


def unsupported_message(suffix: str) -> str:
    return f"unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}"


def load_document(path: Path, source: str | None = None) -> Document:
    """Read one file into a `Document`; raise `DocumentError` naming the reason it cannot be used."""
    fmt = format_of(path)
    if fmt is None:
        raise DocumentError(unsupported_message(path.suffix.lower()))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read the file: {exc.strerror or exc}") from exc
    return load_bytes(data, source or path.as_posix(), fmt)


def load_bytes(data: bytes, source: str, fmt: Format) -> Document:
    """Parse `data` as `fmt`; raise `DocumentError` for an empty or unusable file."""
    if not data.strip():
        raise DocumentError("the file is empty")
    doc = fmt.load(data, source)
    if not doc.text.strip():
        raise DocumentError("the file has no text to index")
    return doc
