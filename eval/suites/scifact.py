"""BEIR SciFact test as document retrieval: dense-only, BM25-only and hybrid, beside the published numbers.

Each abstract is written as `<doc id>.txt` holding "title\\ntext" (BEIR embeds title + text) and indexed by
the product pipeline (chunking, embedding, FAISS + BM25). A chunk hit maps back to its document; a document
ranks at its best chunk. Dense-only and lexical-only lists come straight from the store
(`search_dense`, `search_lexical`), the hybrid list from `RAG.retrieve` (the product's fusion), each deep
enough (`DEPTH` chunks) for Recall@100.

`quick`: 30 queries (every 10th by id) over a corpus of their relevant abstracts plus 200 others drawn
with a fixed seed; the default and `full` both run all 300 test queries over all 5,183 abstracts.
`limit`: at most that many queries, evenly spread (the corpus is unchanged).
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.datasets import load_beir
from eval.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k
from eval.progress import steps
from eval.report import Report
from eval.scratch import store_kind
from eval.suites.squad import spread

DEPTH = 400  # chunks per list: SciFact abstracts are ~2-3 chunks, so >= 100 distinct documents
ASK_QUERIES = {"default": 50, "quick": 10}  # ask latency is measured on the first n queries
QUICK_QUERIES = 30
QUICK_DISTRACTORS = 200
SAMPLE_SEED = 2024
# published test nDCG@10 (MTEB results, Anserini); see ../shared/data/README.md
REFERENCES = {
    "dense": ("all-MiniLM-L6-v2 (MTEB)", 0.6451),
    "bm25": ("BM25 Anserini flat / multifield", "0.6789 / 0.6647"),
    "hybrid": ("bge-small-en-v1.5 (MTEB)", 0.7127),
}


def select(quick: bool) -> tuple[dict[str, tuple[str, str]], dict[str, str], dict[str, dict[str, int]]]:
    """(corpus, queries, qrels): the whole test set, or the quick subset."""
    corpus, queries, qrels = load_beir("scifact")
    if not quick:
        return corpus, queries, qrels
    qids = sorted(queries, key=_id_key)[::10][:QUICK_QUERIES]
    relevant = {d for q in qids for d in qrels[q] if d in corpus}
    others = sorted((d for d in corpus if d not in relevant), key=_id_key)
    keep = relevant | set(random.Random(SAMPLE_SEED).sample(others, min(QUICK_DISTRACTORS, len(others))))
    return ({d: corpus[d] for d in sorted(keep, key=_id_key)}, {q: queries[q] for q in qids},
            {q: qrels[q] for q in qids})


def _id_key(x: str) -> tuple[int, str]:
    return (int(x), x) if x.isdigit() else (1 << 62, x)


def write_corpus(corpus: dict[str, tuple[str, str]], folder: Path) -> None:
    """Each abstract as `<doc id>.txt`: the title on the first line (the document's title), then the text."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, (title, text) in corpus.items():
        body = f"{title.strip()}\n{text.strip()}" if title.strip() else text.strip()
        (folder / f"{doc_id}.txt").write_text(body + "\n", encoding="utf-8")


def doc_of(source: str) -> str:
    return Path(source).name[: -len(".txt")]


def doc_ranking(chunks: Sequence[Any]) -> list[str]:
    """Document ids in order of their best chunk (`chunks`: objects with `.source`, best first)."""
    return list(dict.fromkeys(doc_of(c.source) for c in chunks))


def score(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    qids = sorted(qrels)

    def mean(fn: Any, k: int) -> float:
        return sum(fn(runs.get(q, []), qrels[q], k) for q in qids) / len(qids)

    return {"ndcg@10": mean(ndcg_at_k, 10), "mrr@10": mean(mrr_at_k, 10),
            "recall@10": mean(recall_at_k, 10), "recall@100": mean(recall_at_k, 100)}


def run(settings: Any, quick: bool = False, full: bool = False, limit: int | None = None,
        embedder: Any = None) -> Report:
    """`embedder`: reuse a loaded embedder (tests); default: the one `settings` names."""
    from eval.scratch import scratch_index

    corpus, queries, qrels = select(quick)
    qids = spread(sorted(queries, key=_id_key), limit)
    qrels = {q: qrels[q] for q in qids}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, scratch_index(settings, "scifact", tmp) as scratch:
        folder = Path(tmp) / "scifact"
        write_corpus(corpus, folder)
        rag, build = scratch.build([folder], embedder)
        rag.embedder.embed_queries(["warm-up"])  # the model is loaded by now; keep it out of the latencies
        runs: dict[str, dict[str, list[str]]] = {"dense": {}, "bm25": {}, "hybrid": {}}
        rows = []
        retrieve_s: list[float] = []
        ask_s: list[float] = []
        n_ask = ASK_QUERIES["quick" if quick else "default"]
        for i, q in enumerate(steps(qids, "queries")):
            text = queries[q]
            t0 = time.perf_counter()
            rag.retrieve(text)  # the product's default k: the latency a user sees
            retrieve_s.append(time.perf_counter() - t0)
            vector = rag.embedder.embed_queries([text])[0]
            runs["dense"][q] = doc_ranking([c for c, _ in rag.store.search_dense(vector, DEPTH)])
            runs["bm25"][q] = doc_ranking([c for c, _ in rag.store.search_lexical(text, DEPTH)])
            runs["hybrid"][q] = doc_ranking(rag.retrieve(text, k=DEPTH))
            if i < n_ask:
                t0 = time.perf_counter()
                rag.ask(text)
                ask_s.append(time.perf_counter() - t0)
            rows.append({"id": q, "query": text, "relevant": sorted(qrels[q]),
                         **{f"{m}_ndcg@10": ndcg_at_k(runs[m][q], qrels[q], 10) for m in runs},
                         "hybrid_top10": runs["hybrid"][q][:10]})
    results = {m: score(r, qrels) for m, r in runs.items()}
    table = [{"method": m, **{k: round(v, 4) for k, v in res.items()},
              "published ndcg@10": REFERENCES[m][1], "reference": REFERENCES[m][0]} for m, res in results.items()]
    summary: dict[str, Any] = {
        "queries": len(qids), "documents": len(corpus), "chunks": build.chunks,
        "split": "quick subset" if quick else "test (all)", "store": store_kind(settings),
    }
    for m, res in results.items():
        for k, v in res.items():
            summary[f"{m}.{k}"] = v
    summary.update({
        "reference.dense ndcg@10 (all-MiniLM-L6-v2, MTEB)": 0.6451,
        "reference.bm25 ndcg@10 (Anserini flat)": 0.6789,
        "reference.bm25 ndcg@10 (Anserini multifield)": 0.6647,
        "reference.bge-small-en-v1.5 ndcg@10 (MTEB)": 0.7127,
        "fusion": settings.fusion, "chunk_tokens": settings.chunk_tokens, "chunk_overlap": settings.chunk_overlap,
        "build_chunks_per_s (embedding)": build.embedded / build.embed_seconds if build.embedded else None,
        "build_seconds (total)": build.seconds,
        "retrieve_p50_ms": 1000 * percentile(retrieve_s, 50),
        "retrieve_p95_ms": 1000 * percentile(retrieve_s, 95),
        "ask_p50_ms": 1000 * percentile(ask_s, 50) if ask_s else None,
        "ask_p95_ms": 1000 * percentile(ask_s, 95) if ask_s else None,
        "ask_queries (latency sample)": len(ask_s),
        "total_seconds": time.perf_counter() - started,
    })
    return Report("scifact", summary, rows, tables={"retrieval": table})
