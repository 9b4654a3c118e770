"""Documents and their loaders: .txt, .md, .html (visible text only), .pdf (page numbers kept).

A loader returns a `Document` or raises `DocumentError` saying why the file cannot be used; the
build skips that file with a warning and goes on.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from index.errors import DocumentError

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text", ".rst")
HTML_SUFFIXES = (".html", ".htm")
PDF_SUFFIXES = (".pdf",)
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + PDF_SUFFIXES


@dataclass(frozen=True)
class Document:
    """One source file as text. `pages[i]` is the offset where page i+1 starts (PDF only)."""

    source: str
    text: str
    content_hash: str
    title: str = ""
    pages: tuple[int, ...] = field(default=())

    def page_at(self, offset: int) -> int | None:
        """The 1-based PDF page holding character `offset`, or None for documents without pages."""
        if not self.pages:
            return None
        return max(1, bisect.bisect_right(self.pages, offset))


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_document(path: Path, source: str | None = None) -> Document:
    """Read one file into a `Document`; raise `DocumentError` naming the reason it cannot be used."""
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise DocumentError(
            f"unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read the file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise DocumentError("the file is empty")
    doc = loader(data, source or path.as_posix())
    if not doc.text.strip():
        raise DocumentError("the file has no text to index")
    return doc


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentError("the file is binary (it contains NUL bytes), not text")
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            continue
    raise DocumentError("the file is not valid UTF-8 text; convert it to UTF-8 and index it again")


def _load_text(data: bytes, source: str) -> Document:
    text = _decode(data)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Document(source=source, text=text, content_hash=content_hash(data), title=first.lstrip("# ")[:200])


class _VisibleText(HTMLParser):
    _HIDDEN = {"script", "style", "head", "noscript", "template", "svg", "iframe", "object"}
    _BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
              "section", "article", "header", "footer", "blockquote", "pre", "hr", "dt", "dd", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._hidden = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._HIDDEN:
            self._hidden += 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._HIDDEN and self._hidden:
            self._hidden -= 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._hidden:
            self.parts.append(data)


def _load_html(data: bytes, source: str) -> Document:
    parser = _VisibleText()
    parser.feed(_decode(data))
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    text = "\n".join(line for line in lines if line)
    title = " ".join("".join(parser.title).split())
    if title and not text.startswith(title):
        text = f"{title}\n{text}"
    return Document(source=source, text=text, content_hash=content_hash(data), title=title or text[:80])


def _load_pdf(data: bytes, source: str) -> Document:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError("the PDF is encrypted; save an unencrypted copy and index that")
        page_texts = [(page.extract_text() or "").strip() for page in reader.pages]
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(f"the PDF is corrupt or unreadable ({type(exc).__name__}: {exc})") from exc
    starts, parts, offset = [], [], 0
    for page_text in page_texts:
        starts.append(offset)
        parts.append(page_text)
        offset += len(page_text) + 2
    text = "\n\n".join(parts)
    if not text.strip():
        raise DocumentError("the PDF has no extractable text (scanned images need OCR first)")
    meta_title = (reader.metadata.title if reader.metadata else None) or ""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Document(source=source, text=text, content_hash=content_hash(data),
                    title=str(meta_title) or first[:200], pages=tuple(starts))


_LOADERS: dict[str, Callable[[bytes, str], Document]] = {
    **dict.fromkeys(TEXT_SUFFIXES, _load_text),
    **dict.fromkeys(HTML_SUFFIXES, _load_html),
    **dict.fromkeys(PDF_SUFFIXES, _load_pdf),
}
