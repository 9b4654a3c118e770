"""Refusal levers on SQuAD 2.0, measured against the product's signal: `python -m eval.refusal_levers`.

The product refuses when the confidence of its best sentence (`rag.evidence`; the support of `rag.extract` with
the reranker off) is below the calibrated threshold.
This asks whether other evidence the engine already has separates answerable from unanswerable questions
better. One index of all 1,204 SQuAD 2.0 dev paragraphs; every question of the calibration sample
(`eval/suites/calibrate.py`, 300 + 300) and of the held-out test sample (`eval/suites/squad2.py`, 500 + 500,
none of them in the calibration sample) is retrieved and scored exactly as `RAG.ask` does
(`RAG.candidates`), and these features are kept:

* `support`, `dense`, `lexical`, `fits`: the best sentence's support and its parts (the product's signal);
* `second`, `gap`: the second-best sentence's support, and the best minus it;
* `passage_dense`: the cosine of the question and the best sentence's passage (0 when only BM25 found it);
* `passage_coverage`: the idf-weighted share of question terms the whole passage holds;
* `question_terms`: how many distinct content terms the question has;
* `passage_rank`: the rank of the best sentence's passage among the k retrieved;
* `negation`: the question contains not/never/n't/no/none/without/except.

Each lever is a score: single features (oriented on the calibration sample), and logistic regressions fitted
on the calibration sample only. On the held-out sample: ROC AUC; the refused share of unanswerable questions
when 90% (and 80%) of answerable ones are answered (the issue's target is 70% at 90%); and answered/refused at
the threshold `seedrag eval calibrate` would pick on the calibration sample (best balanced accuracy).
`passage_rank` and `negation` describe how SQuAD 2.0's questions were written (unanswerable ones were written
against one paragraph by editing an answerable question), not evidence in the documents, so a model using
them is measured but not shipped. Writes `report.md` / `report.json` under `--out`.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import refused_at_answered, roc_auc
from eval.progress import steps
from eval.report import Report, fmt, markdown_table
from eval.suites.calibrate import choose_threshold

NEGATION = re.compile(r"\b(?:not|never|no|none|neither|nor|without|except)\b|n[’']t\b", re.I)
FEATURES = ("confidence", "ce", "reader", "support", "dense", "lexical", "fits", "second", "gap", "passage_dense",
            "passage_coverage", "question_terms", "passage_rank", "negation")
EVIDENCE = ("dense", "lexical", "fits", "passage_dense", "passage_coverage", "gap", "question_terms")
L2 = 1.0  # the ridge penalty of the logistic regressions (on standardised features), as scikit-learn's C=1


@dataclass(frozen=True)
class Lever:
    name: str
    features: tuple[str, ...]
    fitted: bool  # a logistic regression on the features; else the single feature is the score
    shipped: str  # what the product does with it


LEVERS = (
    Lever("evidence confidence (the product's signal: cross-encoder + reader logits + coverage, rag.evidence)",
          ("confidence",), False, "yes: the default"),
    Lever("answer reader's logit alone (rag.reader)", ("reader",), False, "in the evidence model"),
    Lever("cross-encoder logit alone", ("ce",), False, "in the evidence model"),
    Lever("support (0.6 dense + 0.4 lexical, x0.7 on a type mismatch)", ("support",),
          False, "yes, with SEEDRAG_RERANKER=none"),
    Lever("sentence cosine alone", ("dense",), False, "no"),
    Lever("sentence lexical coverage alone", ("lexical",), False, "no"),
    Lever("passage cosine alone", ("passage_dense",), False, "no"),
    Lever("support gap to the second-best sentence", ("gap",), False, "no"),
    Lever("logistic regression on evidence features", EVIDENCE, True, "no: gain too small"),
    Lever("... + passage rank", (*EVIDENCE, "passage_rank"), True, "no: SQuAD-specific cue"),
    Lever("... + passage rank + negation in the question + second-best support",
          (*EVIDENCE, "passage_rank", "negation", "second"), True, "no: SQuAD-specific cues"),
)


def features(rag: Any, question: str) -> dict[str, float] | None:
    """The features of `question` as `RAG.ask` sees it (None when nothing was retrieved)."""
    from index.lexical import terms
    from rag.extract import QUESTION_WORDS, lexical_coverage

    hits, ranked = rag.candidates(question)
    if not ranked:
        return None
    best = ranked[0]
    second = ranked[1].support if len(ranked) > 1 else 0.0
    passage = hits[best.passage]
    q_terms = [t for t in terms(question) if t not in QUESTION_WORDS]
    return {
        "confidence": best.probability if best.probability is not None else best.support,  # what ask() gates on
        "ce": best.ce if best.ce is not None else 0.0,
        "reader": best.reader if best.reader is not None else 0.0,
        "support": best.support, "dense": best.dense, "lexical": best.lexical, "fits": float(best.fits),
        "second": second, "gap": best.support - second,
        "passage_dense": passage.dense_score if passage.dense_score is not None else 0.0,
        "passage_coverage": lexical_coverage(q_terms, passage.text, rag._idf_fn()),
        "question_terms": float(len(set(q_terms))), "passage_rank": float(best.passage),
        "negation": float(bool(NEGATION.search(question))),
    }


@dataclass(frozen=True)
class Logistic:
    """p(answerable) = sigmoid(intercept + coef . (x - mean) / scale)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def score(self, x: np.ndarray) -> np.ndarray:
        z = self.intercept + ((x - self.mean) / self.scale) @ self.coef
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, iterations: int = 100,
                 weights: np.ndarray | None = None) -> Logistic:
    """Ridge logistic regression on standardised `x` (intercept not penalised) by Newton's method: the
    minimiser of 0.5 * l2 * |w|^2 + sum(weight * log-loss), scikit-learn's LogisticRegression(C=1/l2) with
    `sample_weight` (default: every row weighs 1)."""
    sample = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (sample * (p - y)) + penalty * w
        hessian = (z * (sample * p * (1 - p))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return Logistic(mean, scale, w[1:], float(w[0]))


def evaluate(cal: list[dict[str, Any]], test: list[dict[str, Any]], lever: Lever) -> dict[str, Any]:
    """`lever` scored on `test`, anything it learns (model, orientation, threshold) taken from `cal`."""
    def matrix(rows: list[dict[str, Any]]) -> np.ndarray:
        return np.array([[r[f] for f in lever.features] for r in rows], dtype=float)

    y_cal = np.array([r["answerable"] for r in cal], dtype=bool)
    y_test = np.array([r["answerable"] for r in test], dtype=bool)
    score: Callable[[np.ndarray], np.ndarray]
    model: Logistic | None = None
    if lever.fitted:
        model = fit_logistic(matrix(cal), y_cal.astype(float))
        score = model.score
    else:
        sign = 1.0 if roc_auc(matrix(cal)[:, 0].tolist(), y_cal.tolist()) >= 0.5 else -1.0
        score = lambda x: sign * x[:, 0]  # noqa: E731
    s_cal, s_test = score(matrix(cal)), score(matrix(test))
    t, _ = choose_threshold({"calibration": (s_cal.tolist(), y_cal.tolist())})  # as `seedrag eval calibrate`
    row: dict[str, Any] = {
        "lever": lever.name,
        "AUC": roc_auc(s_test.tolist(), y_test.tolist()),
        "refused @ 90% answered": refused_at_answered(s_test.tolist(), y_test.tolist(), 0.9),
        "refused @ 80% answered": refused_at_answered(s_test.tolist(), y_test.tolist(), 0.8),
        "answered (calibration-BA threshold)": float((s_test[y_test] >= t).mean()),
        "refused (calibration-BA threshold)": float((s_test[~y_test] < t).mean()),
        "shipped": lever.shipped,
    }
    if model is not None:
        row["coefficients"] = {f: round(float(c), 3) for f, c in zip(lever.features, model.coef, strict=True)}
    return row


def collect(rag: Any, questions: Sequence[Any], split: str) -> list[dict[str, Any]]:
    rows = []
    for q in steps(questions, f"{split} questions"):
        f = features(rag, q.question)
        if f is not None:
            rows.append({"split": split, "id": q.id, "answerable": q.answerable, **f})
    return rows


def run(settings: Any, quick: bool = False, embedder: Any = None) -> Report:
    """Build the SQuAD 2.0 index, collect features for both samples, score every lever.
    `quick`: the first 4 articles (the calibrate suite's quick sample; test: the rest of their questions)."""
    from eval.datasets import load_squad, squad_questions
    from eval.scratch import scratch_index
    from eval.suites import calibrate, squad2

    articles = calibrate.QUICK_ARTICLES if quick else None
    cal_questions = calibrate.squad_v2_sample(calibrate.SAMPLE["quick" if quick else "default"], articles)
    dataset = load_squad("v2.0")
    if articles is not None:
        dataset = {**dataset, "data": dataset["data"][:articles]}
    taken = {q.id for q in cal_questions}
    pool = [q for q in squad2.held_out(squad_questions(dataset)) if q.id not in taken]
    test_questions = squad2.sample(pool, squad2.SAMPLE["quick" if quick else "default"])
    with tempfile.TemporaryDirectory() as tmp, scratch_index(settings, "refusal_levers", tmp) as scratch:
        docs = calibrate.write_paragraphs(Path(tmp) / "paragraphs", articles)
        rag, build = scratch.build([docs], embedder)
        cal = collect(rag, cal_questions, "calibration")
        test = collect(rag, test_questions, "test")
        threshold = rag.threshold
    table = [evaluate(cal, test, lever) for lever in LEVERS]
    y = [r["answerable"] for r in test]
    product = {"answered": sum(1 for r in test if r["answerable"] and r["confidence"] >= threshold)
               / max(1, sum(y)),
               "refused": sum(1 for r in test if not r["answerable"] and r["confidence"] < threshold)
               / max(1, len(y) - sum(y))}
    summary = {
        "calibration questions (answerable / unanswerable)":
            f"{sum(r['answerable'] for r in cal)} / {sum(not r['answerable'] for r in cal)}",
        "test questions, held out (answerable / unanswerable)": f"{sum(y)} / {len(y) - sum(y)}",
        "chunks": build.chunks,
        "product threshold": threshold,
        "product at its threshold: answered (answerable)": product["answered"],
        "product at its threshold: refused (unanswerable)": product["refused"],
        "target": "refused >= 0.70 while answered >= 0.90",
    }
    return Report("refusal_levers", summary, cal + test, tables={"levers": table})


def main(argv: Sequence[str] | None = None) -> int:
    from eval.embcache import cached_run

    parser = argparse.ArgumentParser(prog="python -m eval.refusal_levers", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the first 4 articles only (a smoke test)")
    parser.add_argument("--embedding-cache", default=".cache/seedrag-eval-embeddings")
    parser.add_argument("--out", default="eval/out/refusal_levers")
    args = parser.parse_args(argv)
    report = cached_run(args.embedding_cache, run, quick=args.quick)
    path = report.write(Path(args.out))
    for key, value in report.summary.items():
        print(f"{key}: {fmt(value)}")
    print(markdown_table([{k: fmt(v) for k, v in r.items() if k != "coefficients"} for r in report.tables["levers"]]))
    print(f"report: {path}", file=sys.stderr)
    return 0 if all(not math.isnan(r["AUC"]) for r in report.tables["levers"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
