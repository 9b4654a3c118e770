"""EPUB (.epub): the book's XHTML chapters in reading order (the OPF spine), each read like HTML.

An EPUB is a zip: `META-INF/container.xml` names the package file (OPF), whose manifest maps ids to
files and whose spine orders them. Read with zipfile and lxml (no EPUB library: the common one is AGPL).
"""

from __future__ import annotations

import io
import posixpath
import zipfile

from index.documents import Document
from index.errors import DocumentError
from index.loaders import Builder
from index.loaders.html import add_page

_NS = {"c": "urn:oasis:names:tc:opendocument:xmlns:container", "opf": "http://www.idpf.org/2007/opf",
       "dc": "http://purl.org/dc/elements/1.1/"}


def load(data: bytes, source: str) -> Document:
    import lxml.etree

    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        container = lxml.etree.fromstring(book.read("META-INF/container.xml"))
        opf_path = container.find(".//c:rootfile", _NS).get("full-path")
        opf = lxml.etree.fromstring(book.read(opf_path))
    except (zipfile.BadZipFile, KeyError, AttributeError, lxml.etree.XMLSyntaxError) as exc:
        raise DocumentError(f"the EPUB is corrupt or has no readable package file ({exc})") from exc
    base = posixpath.dirname(opf_path)
    hrefs = {item.get("id"): item.get("href") for item in opf.iterfind(".//opf:manifest/opf:item", _NS)}
    out = Builder()
    for ref in opf.iterfind(".//opf:spine/opf:itemref", _NS):
        href = hrefs.get(ref.get("idref"))
        if not href:
            continue
        try:
            chapter = book.read(posixpath.normpath(posixpath.join(base, href)))
        except KeyError:
            continue  # a spine entry without its file: skip it, keep the rest of the book
        add_page(out, chapter)
    title = opf.findtext(".//dc:title", default="", namespaces=_NS).strip()
    return out.build(data, source, title)
