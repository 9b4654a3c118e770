"""Loaders on real files: hard-wrapped text and Markdown, HTML with chrome, PDF, .docx, .epub, .csv.

Each test asserts what a reader needs: sentences that run across hard wraps end where the language ends
them, headings are blocks with a path, page chrome is gone, and every offset indexes the text exactly.
Installed documentation (Debian's, the Rust book) is read where it lies; a test skips, saying why, when
this machine lacks it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.chunking import chunk_document
from index.documents import SUPPORTED_SUFFIXES, Document, format_of, load_bytes, load_document
from index.errors import DocumentError
from index.loaders.text import text_blocks
from index.sentences import split_sentences
from tests.documents import FERRY_LINES, make_docx, make_epub, make_pdf

RUST_BOOK = Path("/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html/book")
FERRY = "\n".join(FERRY_LINES) + "\n"
FERRY_SENTENCE = ("Ferries to the island leave from its\nnorthern end twice a day, at 7:00 and at 16:30, and the "
                  "crossing\ntakes forty minutes in calm weather.")


def load(tmp_path: Path, name: str, data: bytes | str) -> Document:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return load_document(path, name)


def sentences_of(doc: Document) -> list[str]:
    spans = split_sentences(doc.text)
    assert all(doc.text[s.start:s.end] == s.text for s in spans)
    return [s.text for s in spans]


def installed(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not installed on this machine")
    return path


# ---- plain text and Markdown ----------------------------------------------------------------------------
def test_hard_wrapped_text_keeps_whole_sentences_across_line_breaks(tmp_path):
    doc = load(tmp_path, "notes.txt", "Port Adle\n\n" + FERRY)
    assert doc.text == "Port Adle\n\n" + FERRY  # plain text is kept to the character
    assert FERRY_SENTENCE in sentences_of(doc)
    assert "and it is now 88 metres long." not in sentences_of(doc)  # no half sentence from the wrap
    assert [b.kind for b in doc.blocks] == ["heading", "paragraph"]
    assert doc.section_at(doc.text.index("Ferries")) == "Port Adle"


def test_text_without_blank_lines_still_splits_a_title_from_its_paragraph(tmp_path):
    text = "Island ferries\nFerries leave at 7:00. The crossing takes forty minutes.\nA second paragraph is here.\n"
    doc = load(tmp_path, "one-per-line.txt", text)
    assert sentences_of(doc) == ["Island ferries", "Ferries leave at 7:00.", "The crossing takes forty minutes.",
                                 "A second paragraph is here."]
    assert doc.blocks[0].kind == "heading"


def test_text_lists_rules_and_underlined_headings_are_boundaries(tmp_path):
    text = ("Timetable\n=========\n\nThe boats run on these days:\n- Monday and Tuesday\n- Friday\n\n"
            "Prices\n------\nA ticket costs 4 euros.\n")
    doc = load(tmp_path, "t.rst", text)
    kinds = {doc.text[b.start:b.end]: (b.kind, b.level) for b in doc.blocks}
    assert kinds["Timetable"] == ("heading", 1) and kinds["Prices"] == ("heading", 2)
    assert kinds["- Monday and Tuesday"] == ("item", 0)
    assert "The boats run on these days:" in sentences_of(doc)
    assert doc.section_at(doc.text.index("A ticket")) == "Timetable › Prices"


def test_hard_wrapped_markdown_is_read_as_blocks_with_heading_paths(tmp_path):
    md = ("# Port Adle\n\nSome *intro* text with a [link](http://example.org/x) and `code`.\n\n"
          "## The pier\n\n" + FERRY + "\n```sh\n$ ferry --book 7:00\n```\n\n"
          "| Day | First boat |\n|---|---|\n| Monday | 7:00 |\n\n- one item that wraps\n  onto a second line\n")
    doc = load(tmp_path, "notes.md", md)
    assert "Some intro text with a link and code." in doc.text  # markup is not text; link targets are gone
    assert "http://example.org" not in doc.text and "```" not in doc.text and "|---|" not in doc.text
    assert FERRY_SENTENCE in sentences_of(doc)
    by_kind = {b.kind: doc.text[b.start:b.end] for b in doc.blocks}
    assert by_kind["code"] == "$ ferry --book 7:00"
    assert by_kind["table"] == "Monday | 7:00"
    assert by_kind["item"] == "one item that wraps\nonto a second line"
    assert doc.headings_at(doc.text.index("Ferries")) == ("Port Adle", "The pier")
    assert doc.title == "Port Adle"


def test_a_real_hard_wrapped_readme(tmp_path):
    path = installed(Path("/usr/share/doc/python3-pip/html/getting-started.md"))
    doc = load_document(path, "getting-started.md")
    wrapped = ("As a first step, you should check that you have a working Python with pip\ninstalled.")
    assert wrapped in sentences_of(doc)
    at = doc.text.index("By default, pip will fetch packages")
    assert doc.headings_at(at) == ("Getting Started", "Common tasks", "Install a package")


# ---- HTML ------------------------------------------------------------------------------------------------
CHROME_PAGE = """<!DOCTYPE html><html><head><title>Ferries - The Island Book</title><style>p{}</style></head>
<body><div id="menu-bar" class="menu-bar">Print this book</div>
<nav id="sidebar" class="sidebar"><ol><li><a href="a.html">1. Getting Started</a></li></ol></nav>
<div class="related" role="navigation">Next: Timetables</div>
<main><h1><a class="header" href="#ferries">Ferries</a></h1>
<p>Ferries to the island leave from its
northern end twice a day.</p>
<pre><code>$ ferry --book
  --time 7:00</code></pre>
<h2 id="t">Tickets<a class="headerlink" href="#t">¶</a></h2><p>A ticket costs 4 euros.<br>Children travel free.</p>
<table><tr><th>Day</th><th>Boat</th></tr><tr><td>Monday</td><td>7:00</td></tr></table>
</main><footer>Edit this page on GitHub</footer><script>alert(1)</script></body></html>"""


def test_html_keeps_the_main_content_and_drops_the_chrome(tmp_path):
    doc = load(tmp_path, "ferries.html", CHROME_PAGE)
    for chrome in ("Print this book", "Getting Started", "Next: Timetables", "Edit this page", "alert", "¶"):
        assert chrome not in doc.text
    assert doc.title == "Ferries - The Island Book" and "The Island Book" not in doc.text
    # a newline inside <p> is a space, as a browser shows it; <pre> keeps its lines exactly
    assert "Ferries to the island leave from its northern end twice a day." in sentences_of(doc)
    assert "$ ferry --book\n  --time 7:00" in doc.text
    kinds = [(b.kind, b.level, doc.text[b.start:b.end]) for b in doc.blocks]
    assert ("heading", 1, "Ferries") in kinds and ("heading", 2, "Tickets") in kinds
    assert ("table", 0, "Monday | 7:00") in kinds
    assert doc.section_at(doc.text.index("Children")) == "Ferries › Tickets"


def test_a_real_mdbook_chapter_loses_its_sidebar_and_title(tmp_path):
    path = installed(RUST_BOOK / "ch03-02-data-types.html")
    doc = load_document(path, path.name)
    assert doc.title == "Data Types - The Rust Programming Language"
    assert "The Rust Programming Language" not in doc.text  # neither the title nor the menu bar's book name
    assert "Foreword" not in doc.text and "Introduction" not in doc.text  # the sidebar's table of contents
    # the example: the wrap inside <p> after "is 4" gave the answer "Rust’s char type is 4 [1]"
    sentence = next(s for s in sentences_of(doc) if s.startswith("Rust’s char type is 4"))
    assert sentence.startswith("Rust’s char type is 4 bytes in size and represents a Unicode scalar value")
    assert sentence.endswith(".")
    assert doc.headings_at(doc.text.index(sentence)) == ("Data Types", "Scalar Types", "The Character Type")


def test_a_real_texinfo_page_loses_its_navigation(tmp_path):
    path = installed(Path("/usr/share/doc/libffi8/html/The-Basics.html"))
    doc = load_document(path, path.name)
    assert "Next:" not in doc.text and "Previous:" not in doc.text and "Up:" not in doc.text
    assert doc.blocks[0].kind == "heading" and doc.text.startswith("2.1 The Basics")
    terms = [doc.text[b.start:b.end] for b in doc.blocks if b.kind == "term"]
    assert any(t.startswith("Function: ffi_status ffi_prep_cif") for t in terms)


# ---- PDF -------------------------------------------------------------------------------------------------
def test_pdf_paragraphs_rejoin_hyphens_and_drop_running_headers_and_page_numbers(tmp_path):
    pages = [["Port Adle", "", *FERRY_LINES],
             ["The island has one road. It runs from the jetty to the light-",
              "house, a distance of six kilometres."],
             ["Buses meet every ferry and wait until the last passenger is", "aboard."]]
    doc = load(tmp_path, "guide.pdf", make_pdf(pages))
    assert "Port Adle Ferry Guide" not in doc.text and "Page 2" not in doc.text
    assert "harbour office" in doc.text and "har-" not in doc.text  # the hyphen of the line end is gone
    assert "lighthouse, a distance of six kilometres." in doc.text
    sentences = sentences_of(doc)
    assert FERRY_SENTENCE in sentences
    assert "Tickets are sold in the harbour office beside the pier, which opens at 6:30." in sentences
    assert doc.page_at(doc.text.index("lighthouse")) == 2 and doc.page_at(doc.text.index("Buses")) == 3
    assert doc.page_at(doc.text.index("Ferries")) == 1
    assert doc.title == "Port Adle"  # the PDF's metadata title


def test_a_real_pdf_manual(tmp_path):
    path = installed(Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"))
    doc = load_document(path, path.name)
    assert len(doc.pages) == 17
    assert not any(line.strip() == "Shared MIME-info Database" for line in doc.text.splitlines()[1:])
    assert any("glob elements have a pattern attribute" in s for s in sentences_of(doc))


def test_a_broken_pdf_is_a_clear_reason(tmp_path):
    with pytest.raises(DocumentError, match="corrupt"):
        load(tmp_path, "broken.pdf", b"%PDF-1.4\n this is not really a pdf")


# ---- Word, EPUB, CSV -------------------------------------------------------------------------------------
def test_docx_headings_lists_and_tables(tmp_path):
    doc = load(tmp_path, "handbook.docx", make_docx())
    kinds = [(b.kind, b.level, doc.text[b.start:b.end]) for b in doc.blocks]
    assert kinds[:3] == [("heading", 1, "Port Adle handbook"), ("heading", 2, "The pier"),
                         ("paragraph", 0, "The pier was rebuilt in 1998. It is now 88 metres long.")]
    assert ("item", 0, "Ferries leave twice a day.") in kinds
    assert ("table", 0, "Morning | 7:00") in kinds
    assert doc.headings_at(doc.text.index("forty")) == ("Port Adle handbook", "The pier", "Ferries")
    assert doc.title == "Port Adle handbook"


def test_epub_chapters_come_in_spine_order(tmp_path):
    book = make_epub([("Arrival", "<p>The ferry docks at the\nnorthern pier.</p>"),
                      ("Departure", "<nav><p>Contents</p></nav><p>The last boat leaves at 16:30.</p>")])
    doc = load(tmp_path, "island.epub", book)
    assert doc.title == "The Island Book"
    assert doc.text.index("Arrival") < doc.text.index("Departure")
    assert "The ferry docks at the northern pier." in sentences_of(doc)
    assert "Contents" not in doc.text
    assert doc.section_at(doc.text.index("The last boat")) == "Departure"


def test_a_broken_epub_is_a_clear_reason(tmp_path):
    with pytest.raises(DocumentError, match="EPUB"):
        load(tmp_path, "x.epub", b"PK\x03\x04 not a zip really")


def test_csv_rows_become_records(tmp_path):
    doc = load(tmp_path, "boats.csv", "boat,leaves,seats\nMorning ferry,7:00,120\nLate ferry,16:30,80\n")
    records = [doc.text[b.start:b.end] for b in doc.blocks]
    assert records == ["boat: Morning ferry; leaves: 7:00; seats: 120", "boat: Late ferry; leaves: 16:30; seats: 80"]


def test_every_supported_suffix_has_a_loader():
    assert {".txt", ".md", ".html", ".pdf", ".docx", ".epub", ".csv"} <= set(SUPPORTED_SUFFIXES)
    assert all(format_of(f"x{s}") is not None for s in SUPPORTED_SUFFIXES)


def test_utf16_with_a_bom_is_text_not_binary(tmp_path):
    doc = load(tmp_path, "u16.txt", "Ferries leave at 7:00.\n".encode("utf-16"))
    assert doc.text == "Ferries leave at 7:00.\n"


# ---- exact offsets, whatever the layout --------------------------------------------------------------------
LINES = st.lists(st.sampled_from([
    "The pier is 88 metres long.", "Ferries leave from its", "northern end at 7:00.", "Port Adle", "", "",
    "- a list item", "1. numbered", "    indented code();", "=====", "Mr. Smith said: “fine.”", "e.g. this",
    "naïve 日本語 text", "x" * 90,
]), max_size=60)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=LINES, size=st.integers(16, 200))
def test_sentences_blocks_and_chunks_map_back_exactly(lines, size):
    text = "\n".join(lines)
    spans = split_sentences(text)
    assert all(text[s.start:s.end] == s.text and s.text.strip() == s.text and s.text for s in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))  # in order, never overlapping
    blocks = text_blocks(text)
    assert all(text[b.start:b.end].strip() for b in blocks)
    doc = Document("d.txt", text, "h", blocks=tuple(blocks))
    for c in chunk_document(doc, size, size // 4):
        assert doc.text[c.start:c.end] == c.text
    if text.strip():
        assert load_bytes(text.encode(), "d.txt", format_of("d.txt")).blocks == tuple(blocks)
