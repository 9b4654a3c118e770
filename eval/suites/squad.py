"""SQuAD v1.1 dev as open-corpus QA: every paragraph indexed, each question asked of the whole corpus.

Reports build throughput, retrieval Recall@1/5/10 and MRR@10 against the gold paragraph, answer EM/F1
(official normalisation) and containment, citation precision (the cited span holds a gold answer),
sentence-level citation precision on the ExpMRC evidence subset, and ask/retrieve latency.

Answers are scored twice with the official EM/F1: the whole answer sentence, and the answer phrase
(`Answer.highlight`, from the answer reader; the sentence when there is none).

Questions: only those of the 18 articles the answer reader did not train on (`eval.train_reader.trained_on`:
3,076 questions), DEFAULT_QUESTIONS of them spread evenly (`full`: all 3,076; `limit` N: N spread evenly);
the index holds every paragraph of all 48 articles. `quick` (a smoke test, not comparable): the paragraphs
of the first QUICK_ARTICLES articles and 40 of their held-out questions.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any

from eval.datasets import load_expmrc, load_squad, squad_paragraphs, squad_questions
from eval.metrics import answer_contains, exact_match, f1, normalize_answer, percentile
from eval.progress import steps
from eval.report import Report

_MARKERS = re.compile(r"\s*\[\d+\]")
QUICK_ARTICLES = 3
DEFAULT_QUESTIONS = 1000


def file_name(paragraph_id: str) -> str:
    return paragraph_id.replace("%", "%25").replace("/", "%2F") + ".txt"


def paragraph_of(source: str) -> str:
    return Path(source).name[: -len(".txt")].replace("%2F", "/").replace("%25", "%")


def write_corpus(paragraphs: list[Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for p in paragraphs:
        (folder / file_name(p.id)).write_text(p.text, encoding="utf-8")


def strip_markers(text: str) -> str:
    return _MARKERS.sub("", text).strip()


def spread(items: list[Any], limit: int | None) -> list[Any]:
    """At most `limit` items, evenly spread over `items` (deterministic)."""
    if limit is None or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def run(settings: Any, quick: bool = False, full: bool = False, limit: int | None = None,
        embedder: Any = None) -> Report:
    """`embedder`: reuse a loaded embedder (tests, the embedding cache); default: the one `settings` names.
    The answer mode (extractive, or an LLM) comes from `settings`."""
    from eval.scratch import scratch_index
    from eval.suites.squad2 import not_trained_on
    from rag.generate.registry import from_settings

    dataset = load_squad("v1.1")
    questions = not_trained_on(squad_questions(dataset))
    if quick:
        dataset = {**dataset, "data": dataset["data"][:QUICK_ARTICLES]}
        kept = {p.id for p in squad_paragraphs(dataset)}
        questions = [q for q in questions if q.paragraph_id in kept]
    questions = spread(questions, 40 if quick and limit is None else limit if limit is not None or full
                       else DEFAULT_QUESTIONS)
    evidence = {e.id: e.evidences for e in load_expmrc()}
    with tempfile.TemporaryDirectory() as tmp, scratch_index(settings, "squad", tmp) as scratch:
        corpus = Path(tmp) / "squad"
        write_corpus(squad_paragraphs(dataset), corpus)
        rag, build = scratch.build([corpus], embedder, generator=from_settings(scratch.settings))
        rag.warm_up()  # load the models now; keep that out of the latency numbers
        rows = [_ask(rag, q, evidence.get(q.id)) for q in steps(questions, "asking")]
        mode = rag.mode
    summary = summarise(rows)
    summary = {"mode": mode, "paragraphs": build.chunks and len(squad_paragraphs(dataset)), "chunks": build.chunks,
               "build_chunks_per_s (embedding)": build.embedded / build.embed_seconds if build.embedded else None,
               "build_seconds (total)": build.seconds, **summary}
    return Report("squad", summary, rows)


def _ask(rag: Any, q: Any, evidences: tuple[str, ...] | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    hits = rag.retrieve(q.question, k=10)
    t1 = time.perf_counter()
    answer = rag.ask(q.question)
    t2 = time.perf_counter()
    ranked = list(dict.fromkeys(paragraph_of(h.source) for h in hits))
    rank = ranked.index(q.paragraph_id) + 1 if q.paragraph_id in ranked else None
    text = "" if answer.refused else strip_markers(answer.text)
    phrase = "" if answer.refused else answer.highlight.text if answer.highlight is not None else text
    quotes = [c.quote for c in answer.citations]
    row = {
        "id": q.id, "rank": rank, "refused": answer.refused, "em": exact_match(text, q.answers),
        "f1": f1(text, q.answers), "phrase_em": exact_match(phrase, q.answers),
        "phrase_f1": f1(phrase, q.answers), "highlighted": answer.highlight is not None,
        "contains": answer_contains(text, q.answers),
        "cited_ok": bool(quotes) and any(answer_contains(c, q.answers) for c in quotes),
        "retrieve_s": t1 - t0, "ask_s": t2 - t1, "support": answer.support, "fallback": answer.fallback,
    }
    if evidences is not None:
        ev = [normalize_answer(e) for e in evidences]
        row["evidence_ok"] = bool(quotes) and any(
            normalize_answer(c) in e or e in normalize_answer(c) for c in quotes for e in ev)
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    answered = [r for r in rows if not r["refused"]]
    expmrc = [r for r in rows if "evidence_ok" in r and not r["refused"]]
    def recall(k: int) -> float:
        return sum(1 for r in rows if r["rank"] and r["rank"] <= k) / n
    return {
        "questions": n,
        "recall@1": recall(1), "recall@5": recall(5), "recall@10": recall(10),
        "mrr@10": sum(1 / r["rank"] for r in rows if r["rank"]) / n,
        "answered_rate": len(answered) / n,
        "exact_match (sentence answers)": 100 * sum(r["em"] for r in rows) / n,
        "f1 (sentence answers)": 100 * sum(r["f1"] for r in rows) / n,
        "exact_match (answer phrase)": 100 * sum(r["phrase_em"] for r in rows) / n,
        "f1 (answer phrase)": 100 * sum(r["phrase_f1"] for r in rows) / n,
        "answers with a phrase (answered)": sum(r["highlighted"] for r in answered) / max(1, len(answered)),
        "answer_contains_gold": sum(r["contains"] for r in rows) / n,
        "citation_precision (answered)": sum(r["cited_ok"] for r in answered) / max(1, len(answered)),
        "expmrc_evidence_precision (answered)": (sum(r["evidence_ok"] for r in expmrc) / len(expmrc)) if expmrc
        else None,
        "expmrc_questions": len(expmrc),
        "llm_answers_rejected (fallback)": sum(1 for r in rows if r["fallback"]) / n,
        "retrieve_p50_ms": 1000 * percentile([r["retrieve_s"] for r in rows], 50),
        "retrieve_p95_ms": 1000 * percentile([r["retrieve_s"] for r in rows], 95),
        "ask_p50_ms": 1000 * percentile([r["ask_s"] for r in rows], 50),
        "ask_p95_ms": 1000 * percentile([r["ask_s"] for r in rows], 95),
    }
