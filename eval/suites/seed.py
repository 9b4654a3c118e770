"""The project's own question set on the seed article: answers, citations, refusals, speed."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from eval.metrics import answer_contains, percentile, refusal_accuracy
from eval.report import Report

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@dataclass(frozen=True)
class SeedQuestion:
    id: str
    question: str
    answerable: bool
    answers: tuple[str, ...]
    evidence: tuple[str, ...]
    kind: str


def load_questions() -> list[SeedQuestion]:
    text = (resources.files("eval") / "questions" / "seed.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [SeedQuestion(r["id"], r["question"], r["answerable"], tuple(r["answers"]), tuple(r["evidence"]),
                         r["kind"]) for r in rows]


def citation_correct(answer: Any, q: SeedQuestion, document_text: str) -> bool:
    """A citation is correct when its quote holds a gold answer or overlaps a gold evidence span."""
    for c in answer.citations:
        if answer_contains(c.quote, q.answers):
            return True
        for ev in q.evidence:
            at = document_text.find(ev)
            if at >= 0 and c.start < at + len(ev) and at < c.end:
                return True
    return False


def evaluate(rag: Any, questions: list[SeedQuestion]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = []
    for q in questions:
        answer = rag.ask(q.question)
        doc = rag.document(answer.citations[0].source) if answer.citations else None
        rows.append({
            "id": q.id, "kind": q.kind, "answerable": q.answerable, "refused": answer.refused,
            "support": round(answer.support or 0.0, 4), "seconds": answer.seconds,
            "correct": (not answer.refused and bool(answer_contains(answer.text, q.answers))) if q.answerable
            else answer.refused,
            "cited_ok": citation_correct(answer, q, doc.text if doc else "") if q.answerable and not answer.refused
            else None,
            "question": q.question, "answer": answer.text,
        })
    answerable = [r for r in rows if r["answerable"]]
    answered = [r for r in answerable if not r["refused"]]
    refusal = refusal_accuracy([r["refused"] for r in rows], [r["answerable"] for r in rows])
    latencies = [r["seconds"] for r in rows]
    summary = {
        "questions": len(rows),
        "answer_accuracy (answerable, gold answer in answer)": sum(r["correct"] for r in answerable) / len(answerable),
        "citation_precision (answered)": sum(bool(r["cited_ok"]) for r in answered) / max(1, len(answered)),
        "answered_rate_answerable": refusal["answered_rate_answerable"],
        "refused_rate_unanswerable": refusal["refused_rate_unanswerable"],
        "refusal_accuracy (all)": refusal["accuracy"],
        "ask_p50_ms": 1000 * percentile(latencies, 50),
        "ask_p95_ms": 1000 * percentile(latencies, 95),
    }
    return summary, rows


def run(settings: Any, quick: bool = False, full: bool = False) -> Report:
    from rag.engine import RAG

    questions = load_questions()
    if quick:
        questions = questions[::3]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        rag = RAG.create(tmp, settings=settings.replace(index_dir=tmp, store=None))
        report = rag.index([SEEDS])
        build_s = time.perf_counter() - started
        rag.ask("warm-up question")  # the first call loads the model; keep it out of the latency numbers
        summary, rows = evaluate(rag, questions)
    summary = {"build_seconds (incl. model load)": build_s, "chunks": report.chunks, **summary}
    return Report("seed", summary, rows, tables={"answers": [
        {k: r[k] for k in ("id", "kind", "correct", "cited_ok", "refused", "support", "question")} for r in rows
    ]})
