"""One loader per format family: `load(data: bytes, source: str) -> Document`.

Every loader lays its text out the same way (`Builder`): blocks separated by a blank line, each block
recorded with its kind, so sentences never run across a heading, a list item or a table row, and the
heading path of any offset can be looked up (`Document.headings_at`).
"""

from __future__ import annotations

from index.documents import Block, Document, content_hash
from index.errors import DocumentError


class Builder:
    """Collects blocks of text into a `Document` whose offsets are exact by construction.

    >>> b = Builder()
    >>> b.add("Title", "heading", 1); b.add("A line\\nwrapped.")
    >>> doc = b.build(b"raw", "a.md", "Title")
    >>> doc.text, [x.kind for x in doc.blocks]
    ('Title\\n\\nA line\\nwrapped.', ['heading', 'paragraph'])
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.blocks: list[Block] = []
        self.pages: list[int] = []

    @property
    def empty(self) -> bool:
        return not self._parts

    def add(self, text: str, kind: str = "paragraph", level: int = 0) -> None:
        """Append a block (edges trimmed; a block with no visible text is dropped)."""
        text = text.strip()
        if not text:
            return
        if self._parts:
            self._parts.append("\n\n")
            self._length += 2
        start = self._length
        self._parts.append(text)
        self._length += len(text)
        self.blocks.append(Block(start, self._length, kind, level))

    def new_page(self) -> None:
        """The next block starts a new PDF page."""
        self.pages.append(self._length + (2 if self._parts else 0))

    def build(self, data: bytes, source: str, title: str = "") -> Document:
        text = "".join(self._parts)
        if not text.strip():
            raise DocumentError("the file has no text to index")
        if not title:
            first = next((b for b in self.blocks if b.kind == "heading"), self.blocks[0])
            title = " ".join(text[first.start:first.end].split())[:200]
        return Document(source=source, text=text, content_hash=content_hash(data), title=title,
                        pages=tuple(self.pages), blocks=tuple(self.blocks))


def decode(data: bytes) -> str:
    """Bytes as text: UTF-8 (with or without BOM) or UTF-16 with a BOM; line ends made "\\n"."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentError("the file starts like UTF-16 but does not decode; save it as UTF-8") from exc
    else:
        if b"\x00" in data[:8192]:
            raise DocumentError("the file is binary (it contains NUL bytes), not text")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DocumentError("the file is not valid UTF-8 text; convert it to UTF-8 and index it again") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")
