"""Plain text (.txt, .text, .rst): the file's own characters, with a block map read from its layout.

The text is kept exactly as written (hard wraps included); blocks are the runs that `index.sentences`
does not let a sentence cross. A run of one short line that does not end a sentence is a heading (level 1
for the first line of the file or a `====` underline, else 2, or as deep as its numbering: "2.3 Title");
a run that starts with a list marker is a
list item; a run indented deeper than the file's body text is code.
"""

from __future__ import annotations

import re
from collections import Counter

from index.documents import Block, Document, content_hash
from index.loaders import decode
from index.sentences import _ENDS_SENTENCE, _LIST_MARK, _RULE, segments

HEADING_MAX_CHARS = 100
_NUMBERED = re.compile(r"\s*(\d{1,2}(?:\.\d{1,2})*)\.?\s+[^\W\d_]")  # "2.3 Simple parsing": level 2


def load(data: bytes, source: str) -> Document:
    text = decode(data)
    blocks = text_blocks(text)
    first = next((text[b.start:b.end] for b in blocks if b.kind == "heading"), "")
    title = " ".join(first.split()).lstrip("# ")[:200] or next(
        (line.strip() for line in text.splitlines() if line.strip()), "")[:200]
    return Document(source=source, text=text, content_hash=content_hash(data), title=title, blocks=tuple(blocks))


def text_blocks(text: str, numbered_headings: bool = False) -> list[Block]:
    """The block map of plain text (see the module docstring). `numbered_headings`: only numbered runs
    ("2.3 Title") and the first line are headings; other lone short lines are `line` blocks (a PDF's table
    cells, labels and code lines look like that)."""
    runs = [(a, b) for a, b in segments(text) if not _RULE.match(text[a:b])]
    indents = Counter(_indent(text, a) for a, _ in runs)
    body_indent = indents.most_common(1)[0][0] if indents else 0
    blocks: list[Block] = []
    for i, (a, b) in enumerate(runs):
        run = text[a:b]
        underline = _underline_after(text, b)
        numbered = _NUMBERED.match(run)
        if numbered_headings and _heading_like(run, lists=True):
            level = min(6, numbered.group(1).count(".") + 1) if numbered else 1
            blocks.append(Block(a, b, "heading", level) if numbered or i == 0 else Block(a, b, "line"))
        elif underline or _heading_like(run):
            level = (min(6, numbered.group(1).count(".") + 1) if numbered
                     else 1 if underline == "=" or (i == 0 and not underline) else 2)
            blocks.append(Block(a, b, "heading", level))
        elif _LIST_MARK.match(run):
            blocks.append(Block(a, b, "item"))
        elif _indent(text, a) >= body_indent + 4:
            blocks.append(Block(a, b, "code"))
        else:
            blocks.append(Block(a, b, "paragraph"))
    return blocks


def _heading_like(run: str, lists: bool = False) -> bool:
    """One short line that does not end a sentence (`lists`: a numbered line may be a heading too)."""
    body = run.strip()
    question_title = lists and body.endswith("?") and _NUMBERED.match(run)  # "1.2. What is this spec?"
    return ("\n" not in body and len(body) <= HEADING_MAX_CHARS
            and (not _ENDS_SENTENCE.search(body) or bool(question_title))
            and bool(re.search(r"[^\W\d_]{2}", body))
            and not (_LIST_MARK.match(run) and not (lists and _NUMBERED.match(run))))


def _underline_after(text: str, end: int) -> str:
    """'=' or '-' when the line after `end` underlines the run (a setext/RST heading), else ''."""
    if end >= len(text) or text[end] != "\n":
        return ""
    m = _RULE.match(text[end + 1:_line_end(text, end + 1)])
    return m.group(1) if m and m.group(1) in "=-" else ""


def _indent(text: str, at: int) -> int:
    line_start = text.rfind("\n", 0, at) + 1
    line = text[line_start:_line_end(text, at)].expandtabs(4)
    return len(line) - len(line.lstrip())


def _line_end(text: str, at: int) -> int:
    stop = text.find("\n", at)
    return len(text) if stop < 0 else stop
