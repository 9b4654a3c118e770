"""Markdown (.md, .markdown) through markdown-it-py (CommonMark + GFM tables), as readable text.

The text is what a reader sees, not the markup: emphasis markers, link targets, images and HTML tags are
dropped, link text and inline code kept; soft line breaks inside a paragraph are kept as "\\n" (a wrap,
not a sentence end). Blocks: headings (with their level), paragraphs, list items, code blocks, table rows
(cells joined by " | "), block quotes as paragraphs. Raw HTML blocks contribute their visible text.
"""

from __future__ import annotations

from typing import Any

from index.documents import Document
from index.loaders import Builder, decode


def load(data: bytes, source: str) -> Document:
    from markdown_it import MarkdownIt

    text = decode(data)
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    tokens = parser.parse(_strip_front_matter(text))
    out = Builder()
    items = 0  # depth of list items around the current token
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "list_item_open":
            items += 1
        elif tok.type == "list_item_close":
            items -= 1
        elif tok.type == "heading_open":
            out.add(inline_text(tokens[i + 1]), "heading", int(tok.tag[1]))
            i += 2
        elif tok.type == "paragraph_open":
            out.add(inline_text(tokens[i + 1]), "item" if items else "paragraph")
            i += 2
        elif tok.type in ("fence", "code_block"):
            out.add(tok.content.rstrip("\n"), "code")
        elif tok.type == "html_block":
            from index.loaders.html import fragment_text

            out.add(fragment_text(tok.content))
        elif tok.type == "tr_open":
            cells = []
            while tokens[i].type != "tr_close":
                if tokens[i].type == "inline":
                    cells.append(" ".join(inline_text(tokens[i]).split()))
                i += 1
            out.add(" | ".join(c for c in cells if c), "table")
        i += 1
    return out.build(data, source)


def inline_text(token: Any) -> str:
    """The visible text of an inline token: text and code kept, markup dropped, line breaks as "\\n"."""
    parts: list[str] = []
    for child in token.children or ():  # an image (a badge, a figure) is skipped with its alt text
        if child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type in ("text", "code_inline"):
            parts.append(child.content)
    return "".join(parts)


def _strip_front_matter(text: str) -> str:
    """YAML front matter (--- ... --- at the very top) is metadata, not text: blank it, keeping line numbers."""
    if not text.startswith("---\n"):
        return text
    end = text.find("\n---\n", 4)
    if end < 0:
        return text
    return "\n" * text.count("\n", 0, end + 5) + text[end + 5:]
