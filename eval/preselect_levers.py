"""Which sentences the cross-encoder and the reader score, and how many: `python -m eval.preselect_levers`.

`rag.extract` ranks every retrieved sentence by its support (sentence cosine, term coverage, answer type);
the evidence model (`rag/evidence.json`) then scores only the first `rerank` of them, so that order and that
number decide both what can be answered and how long a question takes. Measured here, for every question:
its sentences in the product's support order, the first `DEPTH` of them scored by both models once. Then
each order below picks its first N, and the shipped evidence model chooses among them:

* `support (pooled)`: the product's order, the sentence cosine from vectors pooled at index time out of the
  chunk's own forward pass (`index.embedding.SentenceTransformerEmbedder.embed_documents_and_spans`);
* `support (separate)`: the same, each sentence embedded on its own at question time (seedrag before
  2026-12-03: ~210 of its ~400 ms per question on the seed index);
* `lexical`: term coverage and answer type only (no sentence vector at all).

Per set (calibration: seed, docs_dev, 150 + 150 SQuAD 2.0 questions of the calibrate sample; held out:
docs_test, 300 SQuAD v1.1 questions of articles neither the reader nor the evidence model saw): the chosen
sentence holds a gold answer (answerable questions), answered and right (its probability passes the
threshold), and unanswerable questions refused.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.report import Report, fmt, markdown_table

DEPTH = 30
CHOICES = (4, 6, 8, 10)
TYPE_PENALTY = 0.7


def question_sets(quick: bool) -> list[tuple[str, str, list[tuple[str, str, bool, tuple[str, ...]]]]]:
    """[(set, corpus, [(id, question, answerable, answers)])]; corpus: seed | docs | squad2 | squad."""
    from eval.suites import calibrate, docs
    from eval.suites.seed import load_questions
    from eval.suites.squad import load_squad, spread, squad_questions
    from eval.suites.squad2 import not_trained_on

    def rows(items: Sequence[Any]) -> list[tuple[str, str, bool, tuple[str, ...]]]:
        return [(q.id, q.question, getattr(q, "answerable", True), tuple(q.answers)) for q in items]

    dq = docs.load_questions()
    squad2 = calibrate.squad_v2_sample(20 if quick else 150, calibrate.QUICK_ARTICLES if quick else None)
    dataset = load_squad("v1.1")
    if quick:
        from eval.suites.squad import QUICK_ARTICLES, squad_paragraphs

        dataset = {**dataset, "data": dataset["data"][:QUICK_ARTICLES]}
        kept = {p.id for p in squad_paragraphs(dataset)}
    squad = [q for q in not_trained_on(squad_questions(dataset)) if not quick or q.paragraph_id in kept]
    squad = spread(squad, 30 if quick else 300)
    return [("seed", "seed", rows(load_questions())),
            ("docs_dev", "docs", rows([q for q in dq if q.split == "dev"])),
            ("docs_test", "docs", rows([q for q in dq if q.split == "test"])),
            ("squad2_calibration", "squad2", rows(squad2)),
            ("squad_held_out", "squad", rows(squad))]


def collect(rag: Any, reranker: Any, reader: Any, name: str,
            items: Sequence[tuple[str, str, bool, tuple[str, ...]]]) -> list[dict[str, Any]]:
    """One row per question: its first DEPTH sentences (support order) with every feature the orders use."""
    from eval.metrics import answer_contains
    from eval.progress import steps
    from rag.evidence import score

    out = []
    for qid, question, answerable, answers in steps(items, name):
        hits, ranked = rag.candidates(question)
        top = score(question, ranked, reranker, reader, DEPTH)
        query = rag.embedder.embed_queries([question])[0]
        separate = rag.embedder.embed_documents([c.text for c in top]) @ query if top else []
        out.append({"set": name, "id": qid, "answerable": answerable, "sentences": [
            {"pooled": c.dense, "separate": float(d), "lexical": c.lexical, "fits": c.fits, "ce": c.ce,
             "reader": c.reader, "label": bool(answerable and answer_contains(c.text, answers))}
            for c, d in zip(top, separate, strict=True)]})
    return out


def _support(dense: str) -> Callable[[dict[str, Any]], float]:
    from rag.extract import W_DENSE, W_LEXICAL

    return lambda s: (W_DENSE * s[dense] + W_LEXICAL * s["lexical"]) * (1.0 if s["fits"] else TYPE_PENALTY)


ORDERS: dict[str, Callable[[dict[str, Any]], float]] = {
    "support (pooled)": _support("pooled"),
    "support (separate)": _support("separate"),
    "lexical": lambda s: s["lexical"] * (1.0 if s["fits"] else TYPE_PENALTY),
}


def measure(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from rag.evidence import shipped

    model = shipped()
    table = []
    for order, key in ORDERS.items():
        for n in CHOICES:
            line: dict[str, Any] = {"order": order, "N": n}
            for name in dict.fromkeys(r["set"] for r in rows):
                right = shown = refused = answerable = unanswerable = 0
                for r in (r for r in rows if r["set"] == name):
                    top = sorted(r["sentences"], key=lambda s: -key(s))[:n]
                    best = max(top, key=model.logit) if top else None
                    passes = best is not None and model.probability(best) >= model.threshold
                    if r["answerable"]:
                        answerable += 1
                        right += bool(best and best["label"])
                        shown += bool(best and best["label"] and passes)
                    else:
                        unanswerable += 1
                        refused += not passes
                line[name] = (f"{right / max(answerable, 1):.3f} / {shown / max(answerable, 1):.3f}"
                              + (f" / {refused / unanswerable:.2f}" if unanswerable else ""))
            table.append(line)
    return table


def run(settings: Any, quick: bool = False, embedder: Any = None) -> Report:
    from eval.scratch import scratch_index
    from eval.suites import calibrate, docs
    from eval.suites.squad import load_squad, squad_paragraphs, write_corpus
    from rag.reader import Reader
    from rag.rerank import CrossEncoderReranker

    settings = settings.replace(reranker="none")  # support order; the models are applied here
    reranker, reader = CrossEncoderReranker(), Reader()
    sets = question_sets(quick)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        docs_folder = Path(tmp) / "docs"
        docs_folder.mkdir()
        present, _ = docs.materialise([f for f in docs.corpus() if f.quick or not quick], docs_folder)
        files = {q.id: q.file for q in docs.load_questions()}
        folders: dict[str, Callable[[], Path]] = {
            "seed": lambda: calibrate.SEEDS,
            "docs": lambda: docs_folder,
            "squad2": lambda: calibrate.write_paragraphs(Path(tmp) / "squad2",
                                                         calibrate.QUICK_ARTICLES if quick else None),
            "squad": lambda: _squad_folder(Path(tmp) / "squad", load_squad, squad_paragraphs, write_corpus, quick),
        }
        for corpus in dict.fromkeys(c for _, c, _ in sets):
            folder = folders[corpus]()
            with scratch_index(settings, f"preselect_{corpus}", tmp) as scratch:
                rag, _ = scratch.build([folder], embedder)
                embedder = embedder or rag.embedder
                for name, c, items in sets:
                    if c == corpus:
                        kept = [q for q in items if corpus != "docs" or files[q[0]] in present]
                        rows += collect(rag, reranker, reader, name, kept)
    summary = {"questions": len(rows), "depth scored": DEPTH,
               "cell": "chosen sentence right / answered and right (answerable) / refused (unanswerable)"}
    return Report("preselect_levers", summary, rows, tables={"orders": measure(rows)})


def _squad_folder(folder: Path, load: Any, paragraphs: Any, write: Any, quick: bool) -> Path:
    dataset = load("v1.1")
    if quick:
        from eval.suites.squad import QUICK_ARTICLES

        dataset = {**dataset, "data": dataset["data"][:QUICK_ARTICLES]}
    write(paragraphs(dataset), folder)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    from eval.embcache import cached_run

    parser = argparse.ArgumentParser(prog="python -m eval.preselect_levers", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few articles and questions (a smoke test)")
    parser.add_argument("--embedding-cache", default=".cache/seedrag-eval-embeddings")
    parser.add_argument("--out", default="eval/out/preselect_levers")
    args = parser.parse_args(argv)
    report = cached_run(args.embedding_cache, run, quick=args.quick)
    path = report.write(Path(args.out))
    print(markdown_table([{k: fmt(v) for k, v in r.items()} for r in report.tables["orders"]]))
    print(f"report: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
