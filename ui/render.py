"""HTML for the chat: everything that comes from documents is escaped, so it shows as text and never runs.

Chat messages are Markdown: text from documents and users goes through `literal` (HTML-escaped, and every
Markdown punctuation mark backslash-escaped), so a document's `[a link](http://...)`, `**stars**` or `# hash`
shows as those characters, never as a link, emphasis or a heading.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from rag.generate.verify import NOT_STATED
from rag.refusal import Fallback

FALLBACK_REASONS: dict[Fallback, str] = {  # a test checks every Fallback has its reason
    "not_stated": NOT_STATED,
    "refused": "the LLM found no answer in the passages",
    "unsupported": "the LLM answer was not supported by the passages",
    "mismatch": "the LLM answer does not hold what the question asks for",
    "no_passages": "no passage fits the LLM's context",
}


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_BOLD_OPEN, _BOLD_CLOSE = "\x00", "\x01"  # survive `literal`, then become ** around the answer phrase


def literal(text: str) -> str:
    """`text` as Markdown that renders exactly these characters (no markup, no links, no HTML)."""
    return _MARKDOWN.sub(r"\\\1", escape(text, quote=False))


def answer_markdown(answer: Any) -> str:
    """The chat message: the answer (escaped), then its numbered citations with the quoted source."""
    if answer.refused:
        fallback = getattr(answer, "fallback", None)
        why = FALLBACK_REASONS[fallback] if fallback else ""
        return f"**Not in the documents.** {literal(answer.text)}" + (
            f"\n\n<small>{escape(fallback)}: {escape(why)}</small>" if fallback else "")
    marked = getattr(answer, "marked_text", None)
    text = marked(_BOLD_OPEN, _BOLD_CLOSE) if marked is not None else answer.text
    lines = [literal(text).replace(_BOLD_OPEN, "**").replace(_BOLD_CLOSE, "**")]  # the answer phrase in bold
    confidence = getattr(answer, "confidence", None)
    if confidence is not None:
        lines.append(f"<small>confidence: **{confidence_label(confidence)}** (P(right) {confidence:.2f})</small>")
    lines.append("")
    for c in answer.citations:
        page = f", page {c.page}" if c.page else ""
        section = f" § {literal(c.section)}" if getattr(c, "section", "") else ""
        quote = literal(" ".join(c.quote.split()))  # a hard-wrapped quote shown on one line
        lines.append(f"\\[{c.n}\\] *{literal(c.source)}{page}{section}, characters {c.start}–{c.end}*: “{quote}”")
    for sentence in getattr(answer, "unsupported", ()) or ():
        lines.append(f"\n<small>⚠ removed, not supported by the passages: {literal(sentence)}</small>")
    for note in getattr(answer, "notes", ()) or ():
        lines.append(f"\n<small>{literal(note)}</small>")
    if answer.standalone_question:
        lines.append(f"\n<small>searched for: {literal(answer.standalone_question)}</small>")
    return "\n".join(lines)


def confidence_label(p: float) -> str:
    """The badge people read: high from 0.75, medium from 0.5, else low (the probability is shown beside)."""
    return "high" if p >= 0.75 else "medium" if p >= 0.5 else "low"


def sources_html(answer: Any) -> str:
    """The sources panel: every retrieved passage with its scores."""
    rows = []
    for i, p in enumerate(answer.passages, 1):
        dense = "–" if p.dense_score is None else f"{p.dense_score:.3f}"
        lexical = "–" if p.lexical_score is None else f"{p.lexical_score:.2f}"
        rows.append(
            f"<div class='seedrag-passage'><b>#{i}</b> {escape(p.source)} [{p.start}:{p.end}] "
            f"<small>score {p.score:.4f} · dense {dense} · bm25 {lexical}</small>"
            f"<div class='seedrag-text'>{escape(p.text)}</div></div>"
        )
    return "\n".join(rows) or "<i>No passages.</i>"


def document_html(text: str, start: int | None = None, end: int | None = None, title: str = "") -> str:
    """A document with the cited span highlighted (`<mark id="seedrag-cited">`), all of it escaped."""
    if start is None or end is None:
        body = escape(text)
    else:
        body = (escape(text[:start]) + "<mark id='seedrag-cited'>" + escape(text[start:end]) + "</mark>"
                + escape(text[end:]))
    return (f"<div class='seedrag-doc'><h4>{escape(title)}</h4>"
            f"<pre style='white-space:pre-wrap;max-height:420px;overflow:auto'>{body}</pre></div>")
