"""CSV and TSV (.csv, .tsv): each row one record block, "column: value; column: value", under the header.

A row becomes a sentence a reader (and the answerer) can quote: "name: Oslo; country: Norway; population:
709000". The first row is taken as the header.
"""

from __future__ import annotations

import csv
import io

from index.documents import Document
from index.errors import DocumentError
from index.loaders import Builder, decode


def load(data: bytes, source: str) -> Document:
    text = decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if source.lower().endswith(".tsv") else csv.excel
    try:
        rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise DocumentError(f"the CSV file cannot be parsed ({exc})") from exc
    if not rows:
        raise DocumentError("the file has no rows")
    header = [h.strip() or f"column {i + 1}" for i, h in enumerate(rows[0])]
    out = Builder()
    for row in rows[1:]:
        fields = [f"{header[i] if i < len(header) else f'column {i + 1}'}: {' '.join(v.split())}"
                  for i, v in enumerate(row) if v.strip()]
        out.add("; ".join(fields), "record")
    if out.empty:
        raise DocumentError("the CSV file has a header but no rows")
    name = source.rsplit("/", 1)[-1]
    return out.build(data, source, name)
