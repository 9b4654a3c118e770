"""Real documents the project did not write: hard-wrapped Markdown and text, HTML manuals with navigation
chrome, PDF manuals, read from where this machine installs them (`eval/questions/docs_corpus.json`).

Every file is checked against its recorded sha256 and copied into a temporary folder (gunzipped where it
ships compressed); a file that is missing or differs is skipped with the reason, and so are its
questions. All available files go into one index; the questions are reported per split: `dev` (the files
the loaders and the answerer were tuned on) and `test` (other files, held out by document).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from eval.metrics import (
    answer_contains,
    calibration_bins,
    expected_calibration_error,
    percentile,
    refusal_accuracy,
)
from eval.progress import steps
from eval.report import Report
from eval.suites.seed import SeedQuestion
from index.documents import NOT_ANSWERS, Document

_SENTENCE_END = re.compile(r"[.!?:;…]['\"”’)\]]*$")
_SUFFIX = {"md": ".md", "txt": ".txt", "html": ".html", "pdf": ".pdf"}


@dataclass(frozen=True)
class CorpusFile:
    key: str
    path: str
    format: str
    sha256: str
    split: str
    quick: bool
    gzip: bool


@dataclass(frozen=True)
class DocsQuestion(SeedQuestion):
    """A seed-set-shaped question about one corpus file (`file`), in the `dev` or `test` split."""

    file: str
    split: str


def corpus() -> list[CorpusFile]:
    data = json.loads((resources.files("eval") / "questions" / "docs_corpus.json").read_text(encoding="utf-8"))
    return [CorpusFile(f["key"], f["path"], f["format"], f["sha256"], f["split"], bool(f.get("quick")),
                       bool(f.get("gzip"))) for f in data["files"]]


def load_questions() -> list[DocsQuestion]:
    out = []
    for split in ("dev", "test"):
        text = (resources.files("eval") / "questions" / f"docs_{split}.jsonl").read_text(encoding="utf-8")
        for line in text.splitlines():
            if line.strip():
                r = json.loads(line)
                out.append(DocsQuestion(r["id"], r["question"], r["answerable"], tuple(r["answers"]),
                                        tuple(r["evidence"]), r["kind"], r["file"], split))
    return out


def materialise(files: list[CorpusFile], folder: Path) -> tuple[dict[str, str], list[str]]:
    """Copy the files that are present and unchanged into `folder`: ({key: file name}, [skip reasons])."""
    names: dict[str, str] = {}
    skipped: list[str] = []
    for f in files:
        path = Path(f.path)
        if not path.is_file():
            skipped.append(f"{f.key}: {f.path} is not installed on this machine")
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != f.sha256:
            skipped.append(f"{f.key}: {f.path} differs from the version the questions were written for (sha256)")
            continue
        if f.gzip:
            data = gzip.decompress(data)
        name = f"{f.key}{_SUFFIX[f.format]}"
        (folder / name).write_bytes(data)
        names[f.key] = name
    return names, skipped


def whole_sentence(doc: Document, start: int, end: int) -> bool:
    """Does the span start where a sentence starts and end where one ends (by the text, not our splitter)?
    A start is a block start or follows a sentence end; an end is a block end or a sentence-ending mark."""
    block = doc.block_at(start)
    if block is None:
        return False
    before = doc.text[block.start:start].rstrip()
    starts = start == block.start or bool(_SENTENCE_END.search(before)) or before.endswith(("•", "-", "*"))
    ends = end == block.end or bool(_SENTENCE_END.search(doc.text[start:end].rstrip()))
    return starts and ends


def structural(doc: Document, start: int, quote: str) -> bool:
    """Is the cited span a heading, a page title, a code line or a definition term (never an answer)?"""
    block = doc.block_at(start)
    flat = " ".join(quote.split())
    return (block is not None and block.kind in NOT_ANSWERS) or flat == " ".join(doc.title.split())


def _flat(text: str) -> tuple[str, list[int]]:
    """Whitespace collapsed to single spaces, with each character's offset in `text`."""
    chars: list[str] = []
    where: list[int] = []
    for m in re.finditer(r"\S+", text):
        if chars:
            chars.append(" ")
            where.append(m.start())
        chars.extend(m.group())
        where.extend(range(m.start(), m.end()))
    return "".join(chars), where


def cited_ok(answer: Any, q: DocsQuestion, documents: dict[str, Document]) -> bool:
    """The citation holds a gold answer, or overlaps a gold evidence phrase (whitespace-insensitive)."""
    for c in answer.citations:
        if answer_contains(c.quote, q.answers):
            return True
        doc = documents.get(c.source)
        if doc is None:
            continue
        flat, where = _flat(doc.text)
        for ev in q.evidence:
            at = flat.find(" ".join(ev.split()))
            if at >= 0:
                a, b = where[at], where[at + len(" ".join(ev.split())) - 1] + 1
                if c.start < b and a < c.end:
                    return True
    return False


def evaluate(rag: Any, questions: list[DocsQuestion]) -> list[dict[str, Any]]:
    rows = []
    for q in steps(questions, "asking"):
        answer = rag.ask(q.question)
        docs = {c.source: rag.document(c.source) for c in answer.citations}
        cite = answer.citations[0] if answer.citations else None
        doc = docs.get(cite.source) if cite else None
        answered = not answer.refused
        rows.append({
            "id": q.id, "split": q.split, "file": q.file, "kind": q.kind, "answerable": q.answerable,
            "refused": answer.refused, "support": round(answer.support or 0.0, 4), "seconds": answer.seconds,
            "confidence": answer.confidence,
            "correct": (answered and bool(answer_contains(answer.text, q.answers)) and bool(answer.citations))
            if q.answerable else answer.refused,
            "cited_ok": cited_ok(answer, q, docs) if q.answerable and answered else None,
            "whole_sentence": whole_sentence(doc, cite.start, cite.end) if doc and cite and answered else None,
            "structural": structural(doc, cite.start, cite.quote) if doc and cite and answered else None,
            "section": cite.section if cite else "", "question": q.question, "answer": answer.text,
        })
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    answered = [r for r in answerable if not r["refused"]]
    shown = [r for r in rows if not r["refused"]]
    refusal = refusal_accuracy([r["refused"] for r in rows], [r["answerable"] for r in rows])
    return {
        "questions (answerable / unanswerable)": f"{len(answerable)} / {len(rows) - len(answerable)}",
        "answer_accuracy (answerable: gold answer in the answer, verified citation)":
            sum(r["correct"] for r in answerable) / max(1, len(answerable)),
        "citation_precision (answered)": sum(bool(r["cited_ok"]) for r in answered) / max(1, len(answered)),
        "answered_rate_answerable": refusal["answered_rate_answerable"],
        "refused_rate_unanswerable": refusal["refused_rate_unanswerable"],
        "whole_sentence_rate (answers shown)": sum(bool(r["whole_sentence"]) for r in shown) / max(1, len(shown)),
        "heading/title/code answers": sum(bool(r["structural"]) for r in shown),
        "confidence ECE (answers shown; 10 bins)": expected_calibration_error(
            [r["confidence"] for r in shown if r["confidence"] is not None],
            [bool(r["correct"]) and r["answerable"] for r in shown if r["confidence"] is not None]),
        "ask_p50_ms": 1000 * percentile([r["seconds"] for r in rows], 50) if rows else 0.0,
        "ask_p95_ms": 1000 * percentile([r["seconds"] for r in rows], 95) if rows else 0.0,
    }


def run(settings: Any, quick: bool = False, full: bool = False, limit: int | None = None,
        embedder: Any = None) -> Report:
    from eval.scratch import scratch_index
    from eval.suites.squad import spread
    from rag.generate.registry import from_settings

    files = [f for f in corpus() if f.quick or not quick]
    with tempfile.TemporaryDirectory() as tmp, scratch_index(settings, "docs", tmp) as scratch:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        names, skipped = materialise(files, folder)
        for reason in skipped:
            print(f"skipped {reason}", file=sys.stderr)
        questions = [q for q in load_questions() if q.file in names]
        questions = spread(questions, limit)
        if not names:
            raise SystemExit("eval docs: none of the corpus files is installed here (see the skip reasons above)")
        started = time.perf_counter()
        rag, report = scratch.build([folder], embedder, generator=from_settings(scratch.settings))
        build_s = time.perf_counter() - started
        rag.warm_up()
        rows = evaluate(rag, questions)
        shutil.rmtree(folder, ignore_errors=True)
    seconds = max(report.embed_seconds, 1e-9)
    summary: dict[str, Any] = {
        "mode": rag.mode, "files (indexed / skipped)": f"{len(names)} / {len(skipped)}", "chunks": report.chunks,
        "index build seconds (model load included)": build_s,
        "ingest documents/s, chunks/s (chunking + embedding)":
            f"{len(names) / seconds:.2f}, {report.embedded / seconds:.1f}",
    }
    tables: dict[str, list[dict[str, Any]]] = {}
    for split in ("dev", "test"):
        part = [r for r in rows if r["split"] == split]
        if part:
            for key, value in summarise(part).items():
                summary[f"{split}: {key}"] = value
    for split in ("dev", "test"):  # reliability diagrams as tables: confidence against accuracy per bin
        shown = [r for r in rows if r["split"] == split and not r["refused"] and r["confidence"] is not None]
        if shown:
            tables[f"reliability ({split})"] = calibration_bins(
                [r["confidence"] for r in shown], [bool(r["correct"]) and r["answerable"] for r in shown])
    tables["answers"] = [{k: r[k] for k in ("id", "split", "file", "correct", "cited_ok", "refused", "support",
                                            "whole_sentence", "question")} for r in rows]
    if skipped:
        tables["skipped files"] = [{"reason": s} for s in skipped]
    return Report("docs", summary, rows, tables=tables)
