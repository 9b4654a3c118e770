"""What the chat shows: document text stays text (no links, emphasis or HTML from a document)."""

from __future__ import annotations

import re
from html import unescape

from markdown_it import MarkdownIt

from ui.render import answer_markdown, literal

MD = MarkdownIt("commonmark")  # the same CommonMark rules the chat's Markdown renderer follows


def visible(markdown: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", MD.render(markdown)))


def test_literal_renders_exactly_the_characters():
    for text in ["[the site](http://evil.example)", "**not bold** _nor this_", "# not a heading", "1. not a list",
                 "<script>alert(1)</script>", "a \\ backslash, `code`, ![img](x.png) | pipe ~tilde~", "U.S. 7:00 & co"]:
        html = MD.render(literal(text))
        assert "<a " not in html and "<strong>" not in html and "<em>" not in html and "<script" not in html
        assert "<h1>" not in html and "<ol>" not in html and "<code>" not in html and "<img" not in html
        assert visible(literal(text)).strip() == text


def test_a_link_in_a_document_is_shown_as_text_in_the_answer(make_rag, tmp_path):
    doc = tmp_path / "docs" / "ferry.txt"
    doc.write_text("The Port Adle ferry timetable is published on [the site](http://evil.example/timetable) "
                   "every spring.\n\nThe harbour office is open **daily** from 8:00 to 18:00.\n", encoding="utf-8")
    rag = make_rag()
    rag.index([tmp_path / "docs"])
    answer = rag.ask("Where is the Port Adle ferry timetable published?")
    assert not answer.refused
    shown = answer_markdown(answer)
    html = MD.render(shown)
    assert "<a " not in html and "evil.example" in visible(shown)
    assert "[the site](http://evil.example/timetable)" in visible(shown)  # the quote is the source characters
    if answer.highlight is not None:  # the phrase, and only the phrase, is bold
        bold = re.findall(r"<strong>(.*?)</strong>", html)
        assert unescape(bold[0]) == " ".join(answer.highlight.text.split())


def test_every_fallback_has_its_reason_in_the_chat():
    from typing import get_args

    from rag.refusal import Fallback
    from ui.render import FALLBACK_REASONS

    assert set(FALLBACK_REASONS) == set(get_args(Fallback))
