"""SQuAD 2.0 dev for refusal: open-corpus questions, half of them unanswerable from the paragraphs.

Every dev paragraph is indexed (1,204; `quick` indexes only the articles of its questions). Questions: a
deterministic sample of 500 answerable + 500 unanswerable held out from calibration and from training:
only questions of the 18 articles the answer reader did not train on (`eval.train_reader`), none of the
questions `eval/suites/calibrate.py` and `eval/fit_evidence.py` fitted the product's evidence on (`full`:
all 11,873, calibration and training questions included; `quick`: 30 + 30 from the first QUICK_ARTICLES
articles; `limit` N: N // 2 of each class, held out too unless `full`). Each question is asked once with refusal
switched off, so every question has its best sentence and support; the product's decision is then
`support < threshold` (the threshold the product uses by default: the setting, else the index manifest's,
else rag/calibration.json), and the coverage/accuracy curve sweeps that threshold. An answer that failed
citation verification counts as refused at every threshold, as in the product.

Reported: answerable accuracy (answered AND the answer contains a gold answer) and answered rate,
unanswerable refused rate, the curve (table + PNG), official SQuAD 2.0 EM/F1 with refused → "" and the
answer phrase otherwise (`Answer.highlight`; the sentence when there is none), build throughput, retrieve/ask latency.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.datasets import load_squad, squad_paragraphs, squad_questions
from eval.metrics import answer_contains, percentile, squad_v2_scores
from eval.progress import steps
from eval.report import Report
from eval.suites.squad import strip_markers, write_corpus

SAMPLE = {"default": 500, "quick": 30}
SAMPLE_SEED = 2024
QUICK_ARTICLES = 4
PLOT = "coverage.png"
NEVER_REFUSE = -1e9


def sample(items: list[Any], n_per_class: int | None) -> list[Any]:
    """`n_per_class` answerable + as many unanswerable questions (all when None), in file order."""
    chosen: list[Any] = []
    for answerable in (True, False):
        group = [q for q in items if q.answerable is answerable]
        if n_per_class is not None and n_per_class < len(group):
            group = random.Random(SAMPLE_SEED).sample(group, n_per_class)
        chosen.extend(group)
    order = {q.id: i for i, q in enumerate(items)}
    return sorted(chosen, key=lambda q: order[q.id])


def not_trained_on(items: list[Any]) -> list[Any]:
    """`items` without the questions of the articles the answer reader trained on (`eval.train_reader`)."""
    from eval.train_reader import article_of, trained_on

    trained = trained_on()
    return [q for q in items if article_of(q.paragraph_id) not in trained]


def held_out(items: list[Any]) -> list[Any]:
    """`items` without the SQuAD 2.0 questions the product's evidence model and refusal threshold were fitted
    on (the calibrate suite's default sample) and without those of the reader's training articles."""
    from eval.suites.calibrate import SAMPLE as CALIBRATION
    from eval.suites.calibrate import squad_v2_sample

    calibration = {q.id for q in squad_v2_sample(CALIBRATION["default"])}
    return [q for q in not_trained_on(items) if q.id not in calibration]


def subset(dataset: dict[str, Any], qids: set[str]) -> dict[str, Any]:
    """The SQuAD JSON restricted to the questions `qids` (for the official v2.0 scores of a sample)."""
    data = []
    for article in dataset["data"]:
        paragraphs = [{**p, "qas": [qa for qa in p["qas"] if qa["id"] in qids]} for p in article["paragraphs"]]
        data.append({**article, "paragraphs": paragraphs})
    return {**dataset, "data": data}


def product_threshold(rag: Any, settings: Any) -> tuple[float, str]:
    """The refusal threshold the product uses by default for this index (`RAG.threshold`), and where it
    comes from."""
    manifest = rag.store.manifest()
    if settings.refusal_threshold is not None:
        source = "setting refusal_threshold"
    elif manifest is not None and manifest.extra.get("refusal_threshold") is not None:
        source = "index manifest"
    else:
        source = "rag/evidence.json" if rag.reranker is not None else "rag/calibration.json"
    return rag.threshold, source


def run(settings: Any, quick: bool = False, full: bool = False, limit: int | None = None,
        embedder: Any = None) -> Report:
    """`embedder`: reuse a loaded embedder (tests); default: the one `settings` names. The answer mode
    (extractive, or an LLM) comes from `settings`: with an LLM every question reaches it (refusal is off), and
    an answer it had rejected counts as refused at every threshold when `llm_fallback` is "refuse"."""
    from eval.scratch import scratch_index
    from rag.generate.registry import from_settings

    dataset = load_squad("v2.0")
    if quick:
        dataset = {**dataset, "data": dataset["data"][:QUICK_ARTICLES]}
    per_class = max(1, limit // 2) if limit is not None else None if full else SAMPLE["quick" if quick else "default"]
    pool = squad_questions(dataset)
    if not full:
        pool = held_out(pool)  # (`full` asks trained-on questions too: not a held-out measure)
    questions = sample(pool, per_class)
    paragraphs = squad_paragraphs(dataset)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, scratch_index(settings, "squad2", tmp) as scratch:
        corpus = Path(tmp) / "squad2"
        write_corpus(paragraphs, corpus)
        rag, build = scratch.build([corpus], embedder, generator=from_settings(scratch.settings))
        threshold, threshold_source = product_threshold(rag, settings)
        rag.warm_up()  # load the models now; keep that out of the latency numbers
        # refusal off: every question gets its best sentence; the decision is re-applied below
        rag = rag.with_settings(refusal_threshold=NEVER_REFUSE)
        rows = [_ask(rag, q) for q in steps(questions, "asking")]
        mode = rag.mode
    for r in rows:
        r["refused"] = r["unsupported"] or r["support"] < threshold
    summary = _summarise(rows, threshold)
    preds = {r["id"]: "" if r["refused"] else r["phrase"] for r in rows}
    official = squad_v2_scores(subset(dataset, {r["id"] for r in rows}), preds)
    grid = _grid(rows, threshold)
    curve = [_at(rows, t) for t in grid]
    out_rows = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
    report_summary: dict[str, Any] = {
        "mode": mode,
        "questions": len(rows),
        "answerable": sum(r["answerable"] for r in rows),
        "unanswerable": sum(not r["answerable"] for r in rows),
        "paragraphs indexed": len(paragraphs),
        "chunks": build.chunks,
        "threshold (product default)": threshold,
        "threshold source": threshold_source,
        **summary,
        **(_llm_summary(rows, settings, threshold) if mode != "extractive" else {}),
        **{f"squad_v2.{k}": v for k, v in official.items() if not k.endswith("total")},
        "build_chunks_per_s (embedding)": build.embedded / build.embed_seconds if build.embedded else None,
        "build_seconds (total)": build.seconds,
        "retrieve_p50_ms": 1000 * percentile([r["retrieve_s"] for r in rows], 50),
        "retrieve_p95_ms": 1000 * percentile([r["retrieve_s"] for r in rows], 95),
        "ask_p50_ms": 1000 * percentile([r["ask_s"] for r in rows], 50),
        "ask_p95_ms": 1000 * percentile([r["ask_s"] for r in rows], 95),
        "total_seconds": time.perf_counter() - started,
    }
    return CurveReport("squad2", report_summary, out_rows, tables={"coverage": curve}, points=rows,
                       threshold=threshold)


@dataclass
class CurveReport(Report):
    """A Report that also draws the coverage/accuracy curve (PNG) into the folder it is written to."""

    points: list[dict[str, Any]] = field(default_factory=list)
    threshold: float = 0.0

    def write(self, out: Path) -> Path:
        out.mkdir(parents=True, exist_ok=True)
        if _plot(self.points, self.threshold, out / PLOT) and PLOT not in self.plots:
            self.plots.append(PLOT)
        return super().write(out)


def _ask(rag: Any, q: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    rag.retrieve(q.question)
    t1 = time.perf_counter()
    answer = rag.ask(q.question)
    t2 = time.perf_counter()
    text = "" if answer.support is None or answer.refused else strip_markers(answer.text)
    return {
        "id": q.id, "answerable": q.answerable,
        "support": -math.inf if answer.support is None else float(answer.support),
        # nothing retrieved, or the citation failed verification: refused whatever the threshold
        "unsupported": answer.support is None or answer.refused,
        "answer": text,
        "phrase": answer.highlight.text if text and answer.highlight is not None else text,
        "contains_gold": bool(q.answers) and bool(answer_contains(text, q.answers)),
        "retrieve_s": t1 - t0, "ask_s": t2 - t1, "question": q.question, "fallback": answer.fallback,
    }


def _llm_summary(rows: list[dict[str, Any]], settings: Any, threshold: float) -> dict[str, Any]:
    """How often the LLM's own answer was rejected by the checks (its refusals included), per class; how
    often its answerability check said "no"; and the answered/refused rates at the product's threshold under
    both `llm_fallback` policies (a rejected answer refused, or replaced by the extractive answer: only the
    check's "no" and the gate then refuse)."""
    def share(answerable: bool, test: Any) -> float:
        group = [r for r in rows if r["answerable"] is answerable]
        return sum(1 for r in group if test(r)) / max(1, len(group))

    def gated(r: dict[str, Any]) -> bool:
        return bool(r["support"] < threshold)

    def refused_if_extractive(r: dict[str, Any]) -> bool:
        return gated(r) or r["fallback"] == "not_stated" or (r["unsupported"] and not r["fallback"])

    def refused_if_refuse(r: dict[str, Any]) -> bool:
        return gated(r) or bool(r["fallback"]) or bool(r["unsupported"])

    return {"llm_fallback (setting)": settings.llm_fallback,
            "llm_verify (setting)": settings.llm_verify,
            "llm answers rejected: answerable": share(True, lambda r: bool(r["fallback"])),
            "llm answers rejected: unanswerable": share(False, lambda r: bool(r["fallback"])),
            "llm check said not stated: answerable": share(True, lambda r: r["fallback"] == "not_stated"),
            "llm check said not stated: unanswerable": share(False, lambda r: r["fallback"] == "not_stated"),
            "llm_fallback=refuse: answered / refused": (
                f"{share(True, lambda r: not refused_if_refuse(r)):.3f} / {share(False, refused_if_refuse):.3f}"),
            "llm_fallback=extractive: answered / refused": (
                f"{share(True, lambda r: not refused_if_extractive(r)):.3f} / "
                f"{share(False, refused_if_extractive):.3f}")}


def _at(rows: list[dict[str, Any]], t: float) -> dict[str, float]:
    """Rates when answering iff support >= t (and the answer was supported at all)."""
    n_ans = n_una = answered = answered_ans = correct = refused_una = 0
    for r in rows:
        says = not r["unsupported"] and r["support"] >= t
        answered += says
        if r["answerable"]:
            n_ans += 1
            answered_ans += says
            correct += says and r["contains_gold"]
        else:
            n_una += 1
            refused_una += not says
    return {
        "threshold": round(t, 4),
        "coverage (answered, all)": answered / len(rows) if rows else 0.0,
        "answered_rate_answerable": answered_ans / n_ans if n_ans else math.nan,
        "accuracy_answerable": correct / n_ans if n_ans else math.nan,
        "refused_rate_unanswerable": refused_una / n_una if n_una else math.nan,
        "precision (answered, correct)": correct / answered if answered else math.nan,
        "accuracy (all)": (correct + refused_una) / len(rows) if rows else 0.0,
    }


def _summarise(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    at = _at(rows, threshold)
    best = max(_grid(rows, threshold), key=lambda t: _at(rows, t)["accuracy (all)"])
    return {
        "answerable.accuracy (answered and contains gold)": at["accuracy_answerable"],
        "answerable.answered_rate": at["answered_rate_answerable"],
        "answerable.contains_gold_if_never_refused": sum(r["contains_gold"] for r in rows if r["answerable"])
        / max(1, sum(r["answerable"] for r in rows)),
        "unanswerable.refused_rate": at["refused_rate_unanswerable"],
        "accuracy (all: correct answer or correct refusal)": at["accuracy (all)"],
        "coverage (answered, all)": at["coverage (answered, all)"],
        "best threshold on this sample (accuracy all)": best,
        "accuracy (all) at that threshold": _at(rows, best)["accuracy (all)"],
    }


def _grid(rows: list[dict[str, Any]], threshold: float) -> list[float]:
    finite = [r["support"] for r in rows if math.isfinite(r["support"])]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    lo, hi = min(lo, threshold) - 0.01, max(hi, threshold) + 0.01
    n = 40
    return sorted({round(lo + (hi - lo) * i / n, 4) for i in range(n + 1)} | {round(threshold, 4)})


def _plot(rows: list[dict[str, Any]], threshold: float, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    finite = [r["support"] for r in rows if math.isfinite(r["support"])]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    grid = [lo - 0.02 + (hi - lo + 0.04) * i / 200 for i in range(201)]
    curve = [_at(rows, t) for t in grid]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    for key, style in (("answered_rate_answerable", "-"), ("accuracy_answerable", "-"),
                       ("refused_rate_unanswerable", "-"), ("accuracy (all)", "--")):
        left.plot(grid, [c[key] for c in curve], style, label=key)
    left.axvline(threshold, color="k", lw=0.8)
    left.set_xlabel(f"support threshold (product default {threshold:.4f})")
    left.set_ylim(-0.02, 1.02)
    left.grid(alpha=0.3)
    left.legend(loc="best", fontsize=8)
    left.set_title(f"SQuAD 2.0 dev sample ({len(rows)} questions)")
    cov = [c["coverage (answered, all)"] for c in curve]
    prec = [c["precision (answered, correct)"] for c in curve]
    right.plot(cov, prec)
    at = _at(rows, threshold)
    right.plot([at["coverage (answered, all)"]], [at["precision (answered, correct)"]], "ko",
               label=f"default threshold {threshold:.3f}")
    right.set_xlabel("coverage (share of questions answered)")
    right.set_ylabel("accuracy of the answers given")
    right.set_xlim(-0.02, 1.02)
    right.set_ylim(-0.02, 1.02)
    right.grid(alpha=0.3)
    right.legend(loc="best", fontsize=8)
    right.set_title("coverage / accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
