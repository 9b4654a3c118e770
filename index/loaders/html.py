"""HTML (.html, .htm, .xhtml) through lxml: the main content as a reader sees it, without page chrome.

Rules, in order (measured on real documentation pages: mdBook, Sphinx, texinfo and DocBook manuals):

1. Invisible parts go: `<head>` (its `<title>` becomes the document title, not text), scripts, styles,
   templates, SVG, forms and controls, `hidden` / `aria-hidden` elements.
2. The main content is `<main>`, else `[role=main]`, else a single `<article>`, else `<body>`.
3. Inside it, page chrome goes: `<nav>`, `<aside>`, ARIA navigation/banner/contentinfo/complementary/
   search roles, page-level `<header>`/`<footer>` (not those inside an `<article>`), containers whose
   class or id names chrome (nav*, sidebar, menu*, breadcrumb, toc, footer, header, skip, edit, related,
   pagination, search), and Sphinx's `headerlink` anchors.
4. Whitespace follows the browser: runs of spaces and newlines in flowing text are one space, `<br>` is a
   line break, `<pre>` keeps its text exactly. Blocks: h1-h6 (headings with their level), paragraphs,
   list items, `<pre>` (code), table rows (cells joined by " | "), `<dt>` (terms).
"""

from __future__ import annotations

import re
from typing import Any

from index.documents import Document
from index.errors import DocumentError
from index.loaders import Builder, decode

_INVISIBLE = ("script", "style", "noscript", "template", "svg", "iframe", "object", "embed", "canvas", "form",
              "button", "select", "input", "textarea", "dialog", "map")
_CHROME_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "toolbar",
                 "tablist", "dialog"}
_CHROME_NAMES = re.compile(
    r"(?:^|[\s_-])(?:nav\w*|sidebar\w*|sphinxsidebar\w*|menu\w*|breadcrumbs?|toc|footer\w*|header|skip\w*|"
    r"edit\w*|related|pagination|search\w*|share|social|cookie\w*)(?:$|[\s_-])", re.I)
_CONTAINERS = {"div", "section", "nav", "aside", "header", "footer", "ul", "ol", "dl", "table", "p", "span"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre",
           "table", "thead", "tbody", "tfoot", "tr", "figure", "figcaption", "caption", "address", "hr", "body",
           "details", "summary", "center", *_HEADINGS}
_SPACE = re.compile(r"[ \t\n\r\f\v\u200b]+")
_BR = "\x00"


def load(data: bytes, source: str) -> Document:
    out = Builder()
    title = add_page(out, data)
    return out.build(data, source, title)


def add_page(out: Builder, data: bytes) -> str:
    """Add the main content of the HTML page `data` to `out` as blocks; return the page's `<title>`."""
    root = _parse(data)
    title_el = root.find(".//title")
    title = " ".join((title_el.text_content() if title_el is not None else "").split())
    _Walker(out).block(main_content(root), "paragraph", 0)
    return title


def fragment_text(html: str) -> str:
    """The visible text of an HTML fragment (a Markdown file's raw HTML block), whitespace collapsed."""
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except Exception:  # lxml raises several types for junk; a fragment without text is simply dropped
        return ""
    _drop(root, _invisible)
    return _collapse(root.text_content())


def main_content(root: Any) -> Any:
    """The element holding the page's content, with invisible parts and chrome removed (rules 1-3)."""
    head = root.find("head")
    if head is not None:
        head.drop_tree()
    _drop(root, _invisible)
    body = root.find("body")
    body = root if body is None else body
    articles = body.findall(".//article")
    candidates = [body.find(".//main"), _first(body.xpath(".//*[@role='main']")),
                  articles[0] if len(articles) == 1 else None, body]
    main = next(c for c in candidates if c is not None)  # (lxml elements without children are falsy)
    _drop(main, _chrome)
    return main


def _parse(data: bytes) -> Any:
    import lxml.etree
    import lxml.html

    try:
        text = decode(data)
    except DocumentError:
        if b"\x00" in data[:8192]:
            raise
        text = None  # not UTF-8: lxml reads the page's own <meta charset>
    try:
        if text is None or text.lstrip().startswith("<?xml"):
            return lxml.html.document_fromstring(data)
        return lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise DocumentError(f"the HTML cannot be parsed ({exc})") from exc


def _first(items: list[Any]) -> Any:
    return items[0] if items else None


def _invisible(el: Any) -> bool:
    return (el.tag in _INVISIBLE or el.get("hidden") is not None or el.get("aria-hidden") == "true"
            or "display:none" in (el.get("style") or "").replace(" ", ""))


def _chrome(el: Any) -> bool:
    if el.tag in ("nav", "aside") or (el.get("role") or "").lower() in _CHROME_ROLES:
        return True
    if el.tag in ("header", "footer"):
        return not any(a.tag == "article" for a in el.iterancestors())
    if el.tag == "a":
        return el.get("class") == "headerlink"  # Sphinx's ¶ anchor; mdBook's heading text is an <a class="header">
    if el.tag in _CONTAINERS:
        names = f"{el.get('class') or ''} {el.get('id') or ''}"
        return bool(_CHROME_NAMES.search(names)) and not el.xpath(".//main|.//*[@role='main']")
    return False


def _drop(root: Any, rule: Any) -> None:
    doomed = [el for el in root.iter() if isinstance(el.tag, str) and el is not root and rule(el)]
    for el in doomed:
        if el.getparent() is not None:
            el.drop_tree()  # keeps the element's tail text in its parent


def _collapse(text: str) -> str:
    lines = (_SPACE.sub(" ", part).strip() for part in text.split(_BR))
    return "\n".join(line for line in lines if line)


class _Walker:
    """Walks the content tree, turning block elements into `Builder` blocks (rule 4)."""

    def __init__(self, out: Builder) -> None:
        self.out = out
        self.buffer: list[str] = []

    def flush(self, kind: str, level: int) -> None:
        text = _collapse("".join(self.buffer))
        self.buffer = []
        if text:
            self.out.add(text, kind, level)

    def block(self, el: Any, kind: str, level: int) -> None:
        """Inline content of `el` goes to the buffer; a child block flushes it first."""
        self.buffer.append(el.text or "")
        for child in el:
            if not isinstance(child.tag, str):  # comment or processing instruction: only its tail is text
                self.buffer.append(child.tail or "")
                continue
            tag = child.tag.lower()
            if tag == "pre":
                self.flush(kind, level)
                self.out.add(child.text_content().strip("\n"), "code")
            elif tag == "tr":
                self.flush(kind, level)
                cells = [_collapse(c.text_content()) for c in child if isinstance(c.tag, str)]
                self.out.add(" | ".join(c for c in cells if c), "table")
            elif tag in _BLOCKS:
                self.flush(kind, level)
                self.block(child, *_kind(tag, kind))
                self.flush(*_kind(tag, kind))
            elif tag == "br":
                self.buffer.append(_BR)
            elif tag == "img":
                pass
            elif tag == "sup":
                self.buffer.append("^")
                self.block(child, kind, level)
            else:
                self.block(child, kind, level)  # inline: same block
            self.buffer.append(child.tail or "")


def _kind(tag: str, parent: str) -> tuple[str, int]:
    if tag in _HEADINGS:
        return "heading", _HEADINGS[tag]
    if tag == "li":
        return "item", 0
    if tag == "dt":
        return "term", 0
    if parent in ("item", "term") and tag not in ("ul", "ol", "dl", "table"):
        return parent, 0
    return "paragraph", 0
