"""The project's own question set on the seed article: answers, citations, refusals, speed."""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from eval.metrics import answer_contains, expected_calibration_error, percentile, refusal_accuracy
from eval.progress import steps
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
    for q in steps(questions, "asking"):
        answer = rag.ask(q.question)
        doc = rag.document(answer.citations[0].source) if answer.citations else None
        rows.append({
            "id": q.id, "kind": q.kind, "answerable": q.answerable, "refused": answer.refused,
            "support": round(answer.support or 0.0, 4), "seconds": answer.seconds, "confidence": answer.confidence,
            "correct": (not answer.refused and bool(answer_contains(answer.text, q.answers))) if q.answerable
            else answer.refused,
            "cited_ok": citation_correct(answer, q, doc.text if doc else "") if q.answerable and not answer.refused
            else None,
            "question": q.question, "answer": answer.text, "mode": answer.mode, "fallback": answer.fallback,
            "unsupported_sentences": len(answer.unsupported), "invalid_citations": len(answer.invalid_citations),
            "ttft_s": answer.ttft_s, "tokens_per_s": answer.tokens_per_s,
        })
    answerable = [r for r in rows if r["answerable"]]
    answered = [r for r in answerable if not r["refused"]]
    refusal = refusal_accuracy([r["refused"] for r in rows], [r["answerable"] for r in rows])
    latencies = [r["seconds"] for r in rows]
    summary = {
        "questions": len(rows),
        "answer_accuracy (answerable, gold answer in answer)": sum(r["correct"] for r in answerable)
        / max(1, len(answerable)),
        "citation_precision (answered)": sum(bool(r["cited_ok"]) for r in answered) / max(1, len(answered)),
        "answered_rate_answerable": refusal["answered_rate_answerable"],
        "refused_rate_unanswerable": refusal["refused_rate_unanswerable"],
        "refusal_accuracy (all)": refusal["accuracy"],
        "confidence ECE (answers shown; 10 bins)": expected_calibration_error(
            [r["confidence"] for r in rows if not r["refused"] and r["confidence"] is not None],
            [bool(r["correct"]) and r["answerable"] for r in rows if not r["refused"] and r["confidence"] is not None]),
        "ask_p50_ms": 1000 * percentile(latencies, 50),
        "ask_p95_ms": 1000 * percentile(latencies, 95),
    }
    generated = [r for r in rows if r["ttft_s"] is not None]
    if generated:  # LLM mode: how often the model's own answer survived the checks, and its speed
        kept = [r for r in answerable if r["ttft_s"] is not None and r["fallback"] is None and not r["refused"]]
        summary.update({
            "llm_calls": len(generated),
            "llm_answers_kept (answerable)": len(kept) / max(1, len(answerable)),
            "llm_kept_answer_accuracy (gold answer in answer)": sum(r["correct"] for r in kept) / max(1, len(kept)),
            "fallbacks": dict(Counter(r["fallback"] for r in generated if r["fallback"])),
            "unsupported_sentences_removed": sum(r["unsupported_sentences"] for r in rows),
            "invalid_citations_removed": sum(r["invalid_citations"] for r in rows),
            "unanswerable_llm_answers_shown": sum(1 for r in rows if not r["answerable"] and not r["refused"]
                                                  and r["ttft_s"] is not None and r["fallback"] is None),
            "ttft_p50_ms": 1000 * percentile([r["ttft_s"] for r in generated], 50),
            "ttft_p95_ms": 1000 * percentile([r["ttft_s"] for r in generated], 95),
            "tokens_per_s (median)": percentile(speeds, 50) if (speeds := [r["tokens_per_s"] for r in generated
                                                                             if r["tokens_per_s"]]) else None,
        })
    return {"mode": rag.mode, **summary}, rows


def run(settings: Any, quick: bool = False, full: bool = False, limit: int | None = None,
        embedder: Any = None) -> Report:
    """`embedder`: reuse a loaded embedder; the answer mode (extractive or an LLM) comes from `settings`."""
    from eval.scratch import scratch_index
    from eval.suites.squad import spread
    from rag.generate.registry import from_settings

    questions = load_questions()
    questions = spread(questions[::3] if quick else questions, limit)
    with tempfile.TemporaryDirectory() as tmp, scratch_index(settings, "seed", tmp) as scratch:
        started = time.perf_counter()
        rag, report = scratch.build([SEEDS], embedder, generator=from_settings(scratch.settings))
        build_s = time.perf_counter() - started
        rag.warm_up()  # load the models now; keep that out of the latency numbers
        summary, rows = evaluate(rag, questions)
    summary = {"build_seconds (incl. model load)": build_s, "chunks": report.chunks, **summary}
    return Report("seed", summary, rows, tables={"answers": [
        {k: r[k] for k in ("id", "kind", "correct", "cited_ok", "refused", "support", "question")} for r in rows
    ]})
