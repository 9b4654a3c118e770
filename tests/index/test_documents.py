import pytest

from index.documents import load_document
from index.errors import DocumentError
from tests.pdfs import make_pdf


def test_text_keeps_the_file_text_and_markdown_its_readable_text(tmp_path):
    (tmp_path / "a.txt").write_text("Title\r\nBody line.\r\n", encoding="utf-8")
    doc = load_document(tmp_path / "a.txt", "a.txt")
    assert doc.text == "Title\nBody line.\n"  # plain text to the character (line ends normalised)
    assert doc.title == "Title"
    assert doc.page_at(3) is None
    (tmp_path / "a.md").write_text("# Title\r\nBody *line*.\r\n", encoding="utf-8")
    doc = load_document(tmp_path / "a.md", "a.md")
    assert doc.text == "Title\n\nBody line."  # Markdown: what a reader sees, blocks apart
    assert doc.title == "Title"


def test_html_keeps_visible_text_only(tmp_path):
    (tmp_path / "p.html").write_text(
        "<html><head><title>Missiles</title><style>p{color:red}</style></head><body>"
        "<p>ATACMS range is 190 miles.</p><script>alert('x')</script><p>Second &amp; last.</p></body></html>"
    )
    doc = load_document(tmp_path / "p.html", "p.html")
    assert "ATACMS range is 190 miles." in doc.text
    assert "Second & last." in doc.text
    assert "alert" not in doc.text and "color" not in doc.text
    assert doc.title == "Missiles"


def test_pdf_keeps_page_numbers(tmp_path):
    (tmp_path / "r.pdf").write_bytes(make_pdf(["First page about Kursk.", "Second page about ATACMS."]))
    doc = load_document(tmp_path / "r.pdf", "r.pdf")
    at = doc.text.index("ATACMS")
    assert doc.page_at(at) == 2
    assert doc.page_at(doc.text.index("Kursk")) == 1


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("bin.txt", b"\x00\x01\x02binary\x00", "binary"),
        ("empty.txt", b"   \n", "empty"),
        ("latin.txt", "caf\xe9 cr\xe8me".encode("latin-1"), "UTF-8"),
        ("broken.pdf", b"%PDF-1.4\n this is not really a pdf", "corrupt"),
        ("image.png", b"\x89PNG\r\n", "unsupported"),
    ],
)
def test_unusable_files_raise_a_reason(tmp_path, name, data, reason):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(DocumentError, match=reason):
        load_document(tmp_path / name, name)
