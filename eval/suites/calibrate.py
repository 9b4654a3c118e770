"""Calibrate the refusal threshold: answer when the best sentence's score >= threshold, else refuse.

Scores are `RAG.ask(q).support` (the engine's own gate value: the evidence probability of `rag.evidence`
with the reranker on, the support score of `rag.extract` with `reranker="none"`) on
- the project's seed set (every question: answerable and unanswerable), index = `seeds/`;
- the dev split of the real-documents benchmark (`eval.suites.docs`; skipped when its files are missing);
- a deterministic sample of SQuAD 2.0 dev (default 300 answerable + 300 unanswerable; `full` every
  question), open-corpus retrieval over an index of all 1,204 v2.0 paragraphs (`quick`, a smoke test:
  40 + 40 from the first QUICK_ARTICLES articles over their paragraphs only).
The threshold maximises the mean of the two balanced accuracies, each
(answered rate on answerable + refused rate on unanswerable) / 2.

`python -m eval.suites.calibrate [--quick] [--write]` (or `seedrag eval calibrate`) runs it; only `--write`
(or `run(..., write=True)`) rewrites the threshold: in `rag/evidence.json` with the reranker on, in
`rag/calibration.json` with it off.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.metrics import coverage_accuracy_curve, percentile, refusal_accuracy
from eval.progress import steps
from eval.report import Report

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
CALIBRATION_FILE = ROOT / "rag" / "calibration.json"
EVIDENCE_FILE = ROOT / "rag" / "evidence.json"
DEFAULT_OUT = Path("eval/out/calibrate")  # run_suite's folder for this suite
SAMPLE = {"default": 300, "quick": 40}  # squad2.held_out keeps the default sample out of its test sample
SAMPLE_SEED = 2024
PLOT = "coverage.png"


# --------------------------------------------------------------------------- data


QUICK_ARTICLES = 4  # quick: only the paragraphs and questions of the first articles (a smoke test)


def squad_v2_sample(n_per_class: int | None, articles: int | None = None) -> list[Any]:
    """`n_per_class` answerable and as many unanswerable SQuAD 2.0 dev questions (all when None), in file order.

    Drawn with a fixed `random.Random(SAMPLE_SEED)`, so every run scores the same questions; only questions
    of the articles the answer reader did not train on (`eval.train_reader.trained_on`).
    """
    from eval.datasets import load_squad, squad_questions
    from eval.suites.squad2 import not_trained_on, sample

    dataset = load_squad("v2.0")
    if articles is not None:
        dataset = {**dataset, "data": dataset["data"][:articles]}
    return sample(not_trained_on(squad_questions(dataset)), n_per_class)


def write_paragraphs(folder: Path, articles: int | None = None) -> Path:
    """Each SQuAD 2.0 dev paragraph (of the first `articles` articles) as a .txt file in `folder` (named as
    the squad suite names them)."""
    from eval.datasets import load_squad, squad_paragraphs
    from eval.suites.squad import write_corpus

    dataset = load_squad("v2.0")
    if articles is not None:
        dataset = {**dataset, "data": dataset["data"][:articles]}
    write_corpus(squad_paragraphs(dataset), folder)
    return folder


# --------------------------------------------------------------------------- scoring


def collect(rag: Any, questions: Sequence[tuple[str, str, bool]]) -> list[dict[str, Any]]:
    """`(id, question, answerable)` → rows with the engine's support (None when nothing was retrieved)."""
    rows = []
    for qid, question, answerable in steps(questions, "asking"):
        t = time.perf_counter()
        answer = rag.ask(question)
        rows.append({"id": qid, "answerable": answerable,
                     "support": None if answer.support is None else round(float(answer.support), 6),
                     "question": question, "answer": answer.text, "ask_s": time.perf_counter() - t})
    return rows


def _docs_dev(settings: Any, tmp: str, embedder: Any, quick: bool) -> list[dict[str, Any]]:
    """The real-documents dev questions over an index of all the benchmark's installed files ([] if none)."""
    from eval.scratch import scratch_index
    from eval.suites import docs

    folder = Path(tmp) / "docs-corpus"
    folder.mkdir()
    names, _ = docs.materialise([f for f in docs.corpus() if f.quick or not quick], folder)
    questions = [q for q in docs.load_questions() if q.split == "dev" and q.file in names]
    if not questions:
        return []
    with scratch_index(settings, "calibrate_docs", tmp) as scratch:
        rag, _ = scratch.build([folder], embedder)
        return collect(rag, [(q.id, q.question, q.answerable) for q in questions])


def _score(row: dict[str, Any]) -> float:
    return -math.inf if row["support"] is None else float(row["support"])


def balanced_accuracy(scores: Sequence[float], answerable: Sequence[bool], threshold: float) -> float:
    """(answered rate on answerable + refused rate on unanswerable) / 2; a class with no questions is left out."""
    r = refusal_accuracy([s < threshold for s in scores], answerable)
    parts = [v for v in (r["answered_rate_answerable"], r["refused_rate_unanswerable"]) if not math.isnan(v)]
    return sum(parts) / len(parts) if parts else 0.0


def choose_threshold(datasets: dict[str, tuple[list[float], list[bool]]]) -> tuple[float, float]:
    """The threshold maximising the mean balanced accuracy over `datasets`, and that mean.

    Candidates are the midpoints between consecutive distinct scores (and one below / above all). Among
    equally good candidates the widest contiguous plateau wins and its centre is returned, so the value
    does not sit on a score of one question.
    """
    values = sorted({s for scores, _ in datasets.values() for s in scores if math.isfinite(s)})
    if not values:
        return 0.0, 0.0
    cands = [values[0] - 1e-3] + [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)] + [values[-1] + 1e-3]

    def objective(t: float) -> float:
        return sum(balanced_accuracy(s, a, t) for s, a in datasets.values()) / len(datasets)

    objs = [objective(t) for t in cands]
    best = max(objs)
    runs: list[tuple[int, int]] = []  # contiguous index ranges of optimal candidates
    for i, o in enumerate(objs):
        if o >= best - 1e-12:
            if runs and runs[-1][1] == i - 1:
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((i, i))

    def extent(run: tuple[int, int]) -> tuple[float, float]:
        # candidate i stands for every t in (values[i-1], values[i]]: the objective is constant there
        lo, hi = run
        return (values[lo - 1] if lo > 0 else cands[0]), (values[hi] if hi < len(values) else cands[-1])

    left, right = max((extent(r) for r in runs), key=lambda e: e[1] - e[0])
    threshold = (left + right) / 2
    rounded = round(threshold, 4)
    if abs(objective(rounded) - best) < 1e-12:
        threshold = rounded
    return threshold, best


def rates(rows: list[dict[str, Any]], threshold: float) -> dict[str, float]:
    r = refusal_accuracy([_score(x) < threshold for x in rows], [x["answerable"] for x in rows])
    return {
        "answered_rate_answerable": round(r["answered_rate_answerable"], 4),
        "refused_rate_unanswerable": round(r["refused_rate_unanswerable"], 4),
        "balanced_accuracy": round(balanced_accuracy([_score(x) for x in rows], [x["answerable"] for x in rows],
                                                     threshold), 4),
        "n_answerable": int(r["n_answerable"]),
        "n_unanswerable": int(r["n_unanswerable"]),
    }


# --------------------------------------------------------------------------- the suite


@dataclass
class CalibrationReport(Report):
    """A Report that also draws the curves (PNG) into the folder it is written to."""

    data: dict[str, tuple[list[float], list[bool]]] = field(default_factory=dict)
    threshold: float = 0.0

    def write(self, out: Path) -> Path:
        out.mkdir(parents=True, exist_ok=True)
        if _plot(self.data, self.threshold, out / PLOT) and PLOT not in self.plots:
            self.plots.append(PLOT)
        return super().write(out)


def run(settings: Any, quick: bool = False, full: bool = False, write: bool = False,
        limit: int | None = None, embedder: Any = None) -> Report:
    """Score both sets and pick the threshold; the report's PNG is drawn where the report is written.

    `write=True` rewrites rag/calibration.json. `limit`: SQuAD 2.0 questions per class (overrides quick/full).
    `embedder`: reuse a loaded embedder (e.g. `eval.embcache.CachedEmbedder` to skip re-embedding the
    SQuAD 2.0 paragraphs on the next run). Both indexes are scratch stores (`eval.scratch`).
    """
    from eval.scratch import scratch_index
    from eval.suites.seed import load_questions
    from rag import extract

    started = time.perf_counter()
    n_per_class = limit if limit is not None else None if full else SAMPLE["quick" if quick else "default"]
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        with scratch_index(settings, "calibrate_seed", tmp) as scratch:
            rag, _ = scratch.build([SEEDS], embedder)
            rag.ask("warm-up question")  # loads the model
            seed_rows = collect(rag, [(q.id, q.question, q.answerable) for q in load_questions()])
        timings["seed_seconds (build + ask)"] = time.perf_counter() - t

        docs_rows = _docs_dev(settings, tmp, embedder or rag.embedder, quick)

        t = time.perf_counter()
        articles = QUICK_ARTICLES if quick else None
        docs = write_paragraphs(Path(tmp) / "squad-v2.0-paragraphs", articles)
        with scratch_index(settings, "calibrate_squad2", tmp) as scratch:
            rag, build = scratch.build([docs], embedder or rag.embedder)
            timings["squad2_build_seconds"] = time.perf_counter() - t
            t = time.perf_counter()
            sample = squad_v2_sample(n_per_class, articles)
            squad_rows = collect(rag, [(q.id, q.question, q.answerable) for q in sample])
        timings["squad2_ask_seconds"] = time.perf_counter() - t

    sets = {"seed": seed_rows, "squad2": squad_rows, **({"docs_dev": docs_rows} if docs_rows else {})}
    data = {name: ([_score(r) for r in rows], [r["answerable"] for r in rows]) for name, rows in sets.items()}
    threshold, objective = choose_threshold(data)
    per_set = {name: rates(rows, threshold) for name, rows in sets.items()}

    grid = [round(0.30 + 0.01 * i, 2) for i in range(46)]  # 0.30 .. 0.75
    curve = []
    for name, (scores, answerable) in data.items():
        for row in coverage_accuracy_curve(scores, answerable, grid):
            answered, refused = row["answered_rate_answerable"], row["refused_rate_unanswerable"]
            curve.append({"set": name, "threshold": row["threshold"], "answered_rate_answerable": answered,
                          "refused_rate_unanswerable": refused, "balanced_accuracy": (answered + refused) / 2})

    weights = {"W_DENSE": extract.W_DENSE, "W_LEXICAL": extract.W_LEXICAL, "TYPE_PENALTY": extract.TYPE_PENALTY}
    reranked = settings.reranker != "none"
    record = {
        "threshold": threshold,
        "method": (f"Maximises the mean of the balanced accuracies (answered rate on answerable + refused rate on "
                   f"unanswerable, halved) on the seed question set ({len(seed_rows)} questions), "
                   f"{len(squad_rows)} SQuAD 2.0 dev questions (open retrieval over all 1,204 paragraphs)"
                   + (f" and the real-documents dev split ({len(docs_rows)} questions)" if docs_rows else "")
                   + ", scoring RAG.ask(q).support (" + ("the evidence probability" if reranked else "the support")
                   + "); refuse when it is < threshold."),
        "date": time.strftime("%Y-%m-%d"),
        "objective_mean_balanced_accuracy": round(objective, 4),
        "scoring": {**weights, "embedding_model": settings.embedding_model, "k": settings.k,
                    "fusion": settings.fusion, "chunk_tokens": settings.chunk_tokens},
        "datasets": per_set,
    }
    if write and reranked:
        evidence = json.loads(EVIDENCE_FILE.read_text(encoding="utf-8"))
        evidence.update(threshold=threshold, calibration=record)
        EVIDENCE_FILE.write_text(json.dumps(evidence, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    elif write:
        CALIBRATION_FILE.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")

    summary: dict[str, Any] = {"threshold": threshold, "mean_balanced_accuracy": objective}
    for name, r in per_set.items():
        for key in ("answered_rate_answerable", "refused_rate_unanswerable", "balanced_accuracy",
                    "n_answerable", "n_unanswerable"):
            summary[f"{name}.{key}"] = r[key]
    written = str(EVIDENCE_FILE if reranked else CALIBRATION_FILE) if write else "no"
    summary.update({**{k: float(v) for k, v in weights.items()}, "written": written,
                    **timings, "total_seconds": time.perf_counter() - started,
                    "squad2 build_chunks_per_s (embedding)":
                        build.embedded / build.embed_seconds if build.embedded else None})
    for name, rs in sets.items():
        summary[f"{name} ask_p50_ms"] = 1000 * percentile([r["ask_s"] for r in rs], 50)
        summary[f"{name} ask_p95_ms"] = 1000 * percentile([r["ask_s"] for r in rs], 95)
    rows = [{"set": name, **r} for name, rs in sets.items() for r in rs]
    return CalibrationReport("calibrate", summary, rows, tables={"coverage": curve}, data=data, threshold=threshold)


def _plot(data: dict[str, tuple[list[float], list[bool]]], threshold: float, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:
        return False
    finite = [s for scores, _ in data.values() for s in scores if math.isfinite(s)]
    grid = np.linspace(min(finite) - 0.02, max(finite) + 0.02, 200) if finite else np.linspace(0, 1, 200)
    fig, axes = plt.subplots(1, len(data) + 1, figsize=(5.5 * (len(data) + 1), 4.2), squeeze=False)
    mean = np.mean([[balanced_accuracy(s, a, t) for t in grid] for s, a in data.values()], axis=0)
    ax = axes[0][-1]
    ax.plot(grid, mean, color="C2", label="mean balanced accuracy (objective)")
    ax.axvline(threshold, color="k", lw=0.8)
    ax.set_title("objective")
    ax.set_xlabel(f"support threshold (chosen {threshold:.4f})")
    ax.set_ylim(0.4, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    for ax, (name, (scores, answerable)) in zip(axes[0][:-1], data.items(), strict=True):
        curve = coverage_accuracy_curve(scores, answerable, grid)
        ans = [c["answered_rate_answerable"] for c in curve]
        ref = [c["refused_rate_unanswerable"] for c in curve]
        ax.plot(grid, ans, label="answered | answerable")
        ax.plot(grid, ref, label="refused | unanswerable")
        ax.plot(grid, [(a + r) / 2 for a, r in zip(ans, ref, strict=True)], "--", label="balanced accuracy")
        ax.axvline(threshold, color="k", lw=0.8)
        ax.set_title(f"{name} ({sum(answerable)} answerable, {len(answerable) - sum(answerable)} unanswerable)")
        ax.set_xlabel(f"support threshold (chosen {threshold:.4f})")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _embedder(cache: str | None) -> Any:
    if cache is None:
        return None
    from eval.embcache import CachedEmbedder
    from rag.settings import Settings

    return CachedEmbedder(Settings.from_env().embedder(), cache)  # builds only


def main(argv: Sequence[str] | None = None) -> int:
    from eval.report import fmt
    from rag.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m eval.suites.calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite rag/calibration.json")
    parser.add_argument("--quick", action="store_true", help="40 + 40 SQuAD 2.0 questions")
    parser.add_argument("--full", action="store_true", help="every SQuAD 2.0 dev question (slow)")
    parser.add_argument("--limit", type=int, default=None, help="SQuAD 2.0 questions per class")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="report folder (default %(default)s)")
    parser.add_argument("--embedding-cache", default=None, help="reuse document embeddings kept in this folder")
    args = parser.parse_args(argv)
    embedder = _embedder(args.embedding_cache)
    try:
        report = run(Settings.from_env(), quick=args.quick, full=args.full, write=args.write, limit=args.limit,
                     embedder=embedder)
    finally:
        if embedder is not None:
            embedder.close()
    path = report.write(Path(args.out))
    width = max(len(k) for k in report.summary)
    for key, value in report.summary.items():
        print(f"{key:<{width}}  {fmt(value)}")
    print(f"report: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
