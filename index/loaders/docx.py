"""Word documents (.docx) through python-docx: paragraphs and tables in document order.

Paragraph styles give the structure: "Title" and "Heading N" are headings, list styles (or numbering)
make list items; a table contributes one block per row, cells joined by " | ".
"""

from __future__ import annotations

import io
import re
import zipfile

from index.documents import Document
from index.errors import DocumentError
from index.loaders import Builder

_HEADING = re.compile(r"heading\s*(\d)", re.I)


def load(data: bytes, source: str) -> Document:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError(f"the .docx file is corrupt or not a Word document ({exc})") from exc
    out = Builder()
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            style = (item.style.name if item.style is not None else "") or ""
            heading = _HEADING.match(style)
            if style == "Title":
                out.add(item.text, "heading", 1)
            elif heading:
                out.add(item.text, "heading", min(6, int(heading.group(1)) + 1))
            elif "List" in style or item._p.pPr is not None and item._p.pPr.numPr is not None:
                out.add(item.text, "item")
            else:
                out.add(item.text)
        elif isinstance(item, Table):
            for row in item.rows:
                cells: list[str] = []
                for cell in row.cells:  # a merged cell repeats: keep it once
                    text = " ".join(cell.text.split())
                    if text and (not cells or cells[-1] != text):
                        cells.append(text)
                out.add(" | ".join(cells), "table")
    title = (document.core_properties.title or "").strip()
    return out.build(data, source, title)
