"""Real files of each format, written by the real libraries, for the loader tests.

PDFs come from reportlab (a multi-page layout with a running header, page-number footers and a word
hyphenated at a line end, as typeset manuals have), .docx from python-docx, .epub as the zip of XHTML
chapters and OPF package that the EPUB standard defines.
"""

from __future__ import annotations

import io
import zipfile

FERRY_LINES = [  # hard-wrapped at ~60 columns, as a typeset page would be
    "The pier at Port Adle was rebuilt in 1998 with a wooden deck,",
    "and it is now 88 metres long. Ferries to the island leave from its",
    "northern end twice a day, at 7:00 and at 16:30, and the crossing",
    "takes forty minutes in calm weather. Tickets are sold in the har-",
    "bour office beside the pier, which opens at 6:30.",
]


def make_pdf(pages: list[list[str]], header: str = "Port Adle Ferry Guide") -> bytes:
    """A real PDF: each page has the running `header`, its lines, and "Page N" at the foot."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle("Port Adle")
    width, height = A4
    for n, lines in enumerate(pages, start=1):
        pdf.setFont("Helvetica", 9)
        pdf.drawString(72, height - 40, header)
        pdf.setFont("Helvetica", 11)
        y = height - 90
        for line in lines:
            if line == "":
                y -= 10
                continue
            pdf.drawString(72, y, line)
            y -= 15
        pdf.setFont("Helvetica", 9)
        pdf.drawString(width / 2, 30, f"Page {n}")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def make_docx() -> bytes:
    import docx

    d = docx.Document()
    d.core_properties.title = "Port Adle handbook"
    d.add_heading("Port Adle handbook", level=0)
    d.add_heading("The pier", level=1)
    d.add_paragraph("The pier was rebuilt in 1998. It is now 88 metres long.")
    d.add_heading("Ferries", level=2)
    d.add_paragraph("Ferries leave twice a day.", style="List Bullet")
    d.add_paragraph("The crossing takes forty minutes.", style="List Bullet")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Departure", "Time"
    table.cell(1, 0).text, table.cell(1, 1).text = "Morning", "7:00"
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def make_epub(chapters: list[tuple[str, str]]) -> bytes:
    """An EPUB whose spine lists `chapters` (title, body HTML) in order; the files are stored in reverse
    order inside the zip, so only the spine gives the reading order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", (
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>"))
        items = "".join(f'<item id="c{i}" href="text/ch{i}.xhtml" media-type="application/xhtml+xml"/>'
                        for i in range(len(chapters)))
        spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        z.writestr("OEBPS/content.opf", (
            '<?xml version="1.0" encoding="utf-8"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>The Island Book</dc:title></metadata>'
            f"<manifest>{items}</manifest><spine>{spine}</spine></package>"))
        for i, (title, body) in reversed(list(enumerate(chapters))):
            z.writestr(f"OEBPS/text/ch{i}.xhtml", (
                '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
                f"<head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"))
    return out.getvalue()
