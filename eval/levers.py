"""Retrieval levers, measured one at a time against the product's pipeline: `python -m eval.levers`.

Every variant chunks the corpus with the product's chunker, embeds with the product's model (document
vectors from the evaluation embedding cache, `eval.embcache`), and ranks with exact inner product and the
product's BM25, so the baseline row equals what `seedrag eval scifact` / `squad` measure for FAISS. Each
lever changes one thing from the baseline:

* fusion: the product's min-max mix (`rag.retrieve.fuse`, fusion="mix") at several dense shares, RRF
  (k=60 through the product's `fuse`, and other k);
* BM25: k1/b;
* chunking: chunk size / overlap;
* context: the document's title prepended to every chunk's embedding text (and BM25 text);
* query side: pseudo-relevance feedback, dense (Rocchio over the top chunks' vectors) and lexical (RM3-like
  expansion with the top chunks' best terms);
* rerank: the fused top 20 re-scored with the best sentence's cosine to the question;
* diversity: MMR over the fused top 20.

Corpora: SciFact (all 5,183 abstracts, 300 test queries; nDCG@10 of documents by their best chunk) and
SQuAD v1.1 dev (all 2,067 paragraphs, `--squad-questions` questions spread over the every-5th split;
Recall@5 and MRR of the gold paragraph). Writes `report.md` / `report.json` under `--out`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from eval.embcache import caching
from eval.metrics import recall_at_k
from eval.report import Report, fmt, markdown_table
from index.chunking import chunk_document
from index.documents import Document
from index.lexical import BM25, terms
from rag.retrieve import RRF_K, fuse

DEPTH = 100


@dataclass(frozen=True)
class Variant:
    name: str
    lever: str
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    title: bool = False
    k1: float = 0.9
    b: float = 0.4
    fusion: str = "mix"          # mix | rrf (both the product's rag.retrieve.fuse) | dense | bm25
    rrf_k: int = RRF_K
    alpha: float = 0.5           # dense share in "mix"
    dense_prf: float = 0.0       # Rocchio weight of the top-3 chunk vectors
    lexical_prf: int = 0         # expansion terms from the top-3 BM25 chunks
    sentence_rerank: float = 0.0
    mmr: float = 0.0             # lambda; 0 = off


@dataclass
class Corpus:
    name: str
    docs: list[Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    unit: Callable[[str], str]   # chunk source -> the id qrels use
    metrics: Callable[[dict[str, list[str]], dict[str, dict[str, int]]], dict[str, float]]


@dataclass
class Built:
    chunks: list[Any]
    vectors: np.ndarray
    bm25: BM25
    position: dict[str, int] = field(default_factory=dict)  # chunk id -> index in `chunks`

    def __post_init__(self) -> None:
        self.position = {c.id: n for n, c in enumerate(self.chunks)}


def _doc(source: str, text: str, title: str) -> Document:
    return Document(source=source, text=text, content_hash=str(hash(text)), title=title)


def scifact_corpus(quick: bool = False) -> Corpus:
    """All of SciFact's test set, or the scifact suite's quick subset."""
    from eval.suites.scifact import score, select

    corpus, queries, qrels = select(quick)
    docs = [_doc(f"{d}.txt", f"{t.strip()}\n{x.strip()}" if t.strip() else x.strip(), t.strip())
            for d, (t, x) in corpus.items()]
    return Corpus("scifact", docs, queries, qrels, lambda s: s[:-4],
                  lambda runs, rel: {k: v for k, v in score(runs, rel).items() if k in ("ndcg@10", "recall@100")})


def squad_corpus(n_questions: int) -> Corpus:
    from eval.datasets import load_squad, squad_paragraphs, squad_questions
    from eval.suites.squad import spread

    paragraphs = squad_paragraphs(load_squad("v1.1"))
    docs = [_doc(f"{p.id}.txt", p.text, p.text.split("\n")[0][:200]) for p in paragraphs]  # the loader's title
    qs = spread(squad_questions(load_squad("v1.1-every5th")), n_questions)

    def metrics(runs: dict[str, list[str]], rel: dict[str, dict[str, int]]) -> dict[str, float]:
        n = len(rel)
        mrr = sum(1 / (runs[q].index(next(iter(rel[q]))) + 1) if next(iter(rel[q])) in runs[q] else 0
                  for q in rel) / n
        return {"recall@1": sum(recall_at_k(runs[q], rel[q], 1) for q in rel) / n,
                "recall@5": sum(recall_at_k(runs[q], rel[q], 5) for q in rel) / n, "mrr": mrr}

    return Corpus("squad", docs, {q.id: q.question for q in qs}, {q.id: {q.paragraph_id: 1} for q in qs},
                  lambda s: s[:-4], metrics)


def build(corpus: Corpus, v: Variant, embedder: Any) -> Built:
    chunks = []
    embed_texts, lexical_texts = [], []
    for d in corpus.docs:
        prefix = f"{d.title}\n" if v.title and d.title else ""

        def fits(texts: Sequence[str], prefix: str = prefix) -> list[bool]:
            return embedder.fits([prefix + t for t in texts])

        for c in chunk_document(d, v.chunk_tokens, v.chunk_overlap, fits):
            chunks.append(c)
            text = c.text if (not prefix or c.start == 0) else prefix + c.text
            embed_texts.append(text)
            lexical_texts.append(text)
    with caching(embedder):
        vectors = embedder.embed_documents(embed_texts)
    return Built(chunks, np.asarray(vectors, dtype=np.float32), BM25(lexical_texts, k1=v.k1, b=v.b))


def _minmax(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    return {i: (s - lo) / (hi - lo) if hi > lo else 1.0 for i, s in scores.items()}


def rank(built: Built, query: str, qvec: np.ndarray, v: Variant, embedder: Any) -> list[int]:
    """Chunk positions, best first (at most DEPTH)."""
    if v.dense_prf:
        top = np.argsort(-(built.vectors @ qvec))[:3]
        qvec = qvec + v.dense_prf * built.vectors[top].mean(axis=0)
        qvec = qvec / np.linalg.norm(qvec)
    sims = built.vectors @ qvec
    dense_idx = np.argsort(-sims)[:DEPTH]
    lex_query = query
    if v.lexical_prf:
        pos, _ = built.bm25.search(query, 3)
        counts: dict[str, float] = {}
        for p in pos.tolist():
            for t, n in Counter(terms(built.chunks[p].text)).items():
                counts[t] = counts.get(t, 0.0) + n * built.bm25.idf(t)
        original = set(terms(query))
        extra = [t for t in sorted(counts, key=lambda t: -counts[t]) if t not in original][:v.lexical_prf]
        lex_query = " ".join([query, query, *extra])  # original terms weigh twice the expansion terms
    lpos, lscores = built.bm25.search(lex_query, DEPTH)
    dense = {int(i): float(sims[i]) for i in dense_idx}
    lexical = {int(i): float(s) for i, s in zip(lpos.tolist(), lscores.tolist(), strict=True)}
    if v.fusion == "dense":
        fused = dense
    elif v.fusion == "bm25":
        fused = lexical
    elif v.fusion == "rrf" and v.rrf_k != RRF_K:
        fused = {}
        for r, i in enumerate(sorted(dense, key=lambda i: -dense[i])):
            fused[i] = fused.get(i, 0) + 1 / (v.rrf_k + r + 1)
        for r, i in enumerate(sorted(lexical, key=lambda i: -lexical[i])):
            fused[i] = fused.get(i, 0) + 1 / (v.rrf_k + r + 1)
    else:  # the product's fusion
        hits = fuse([(built.chunks[i], s) for i, s in dense.items()],
                    [(built.chunks[i], s) for i, s in lexical.items()], DEPTH, v.fusion, v.alpha)
        fused = {built.position[h.chunk_id]: h.score for h in hits}  # in the product's order, ties included
    order = list(fused) if v.fusion in ("mix", "rrf") and v.rrf_k == RRF_K else \
        sorted(fused, key=lambda i: (-fused[i], -dense.get(i, -1.0)))[:DEPTH]
    if v.sentence_rerank:
        order = _sentence_rerank(built, order, fused, qvec, v.sentence_rerank, embedder)
    if v.mmr:
        order = _mmr(built, order, fused, v.mmr)
    return order


_SENTENCES: dict[str, np.ndarray] = {}


def _sentence_rerank(built: Built, order: list[int], fused: dict[int, float], qvec: np.ndarray, weight: float,
                     embedder: Any) -> list[int]:
    from index.sentences import split_sentences

    head = order[:20]
    best: dict[int, float] = {}
    for i in head:
        c = built.chunks[i]
        if c.id not in _SENTENCES:
            sents = [sp.text for sp in split_sentences(c.text)] or [c.text]
            _SENTENCES[c.id] = embedder.embed_documents(sents)
        best[i] = float((_SENTENCES[c.id] @ qvec).max())
    nf = _minmax({i: fused[i] for i in head})
    ns = _minmax(best)
    rescored = sorted(head, key=lambda i: -((1 - weight) * nf[i] + weight * ns[i]))
    return rescored + order[20:]


def _mmr(built: Built, order: list[int], fused: dict[int, float], lam: float) -> list[int]:
    head = order[:20]
    nf = _minmax({i: fused[i] for i in head})
    chosen: list[int] = []
    rest = list(head)
    while rest:
        def value(i: int) -> float:
            sim = max((float(built.vectors[i] @ built.vectors[j]) for j in chosen), default=0.0)
            return lam * nf[i] - (1 - lam) * sim
        pick = max(rest, key=value)
        chosen.append(pick)
        rest.remove(pick)
    return chosen + order[20:]


def evaluate(corpus: Corpus, built: Built, v: Variant, embedder: Any, qvecs: dict[str, np.ndarray]) -> dict[str, float]:
    runs = {}
    for q, text in corpus.queries.items():
        if q not in corpus.qrels:
            continue
        order = rank(built, text, qvecs[q], v, embedder)
        runs[q] = list(dict.fromkeys(corpus.unit(built.chunks[i].source) for i in order))
    return corpus.metrics(runs, {q: corpus.qrels[q] for q in runs})


BASE = Variant("baseline (product defaults: chunks 200/40, BM25 k1 0.9 b 0.4, min-max mix, dense share 0.5)", "-")


def variants() -> list[Variant]:
    b = BASE
    return [
        b,
        replace(b, name="dense only", lever="fusion", fusion="dense"),
        replace(b, name="BM25 only", lever="fusion", fusion="bm25"),
        replace(b, name="RRF k=60 (the default until 2026-11-25)", lever="fusion", fusion="rrf"),
        replace(b, name="RRF k=20", lever="fusion", fusion="rrf", rrf_k=20),
        replace(b, name="RRF k=120", lever="fusion", fusion="rrf", rrf_k=120),
        *[replace(b, name=f"min-max mix, dense share {a}", lever="fusion", alpha=a) for a in (0.3, 0.4, 0.6, 0.7)],
        replace(b, name="BM25 k1 1.2 b 0.75", lever="BM25", k1=1.2, b=0.75),
        replace(b, name="BM25 k1 1.5 b 0.75", lever="BM25", k1=1.5, b=0.75),
        replace(b, name="BM25 k1 0.9 b 0.8", lever="BM25", b=0.8),
        replace(b, name="chunks 128/32", lever="chunking", chunk_tokens=128, chunk_overlap=32),
        replace(b, name="chunks 300/60 (model limit 256 word pieces re-splits)", lever="chunking",
                chunk_tokens=300, chunk_overlap=60),
        replace(b, name="title prepended to every chunk", lever="context", title=True),
        replace(b, name="dense PRF (Rocchio 0.3, top 3)", lever="query", dense_prf=0.3),
        replace(b, name="lexical PRF (10 terms, top 3)", lever="query", lexical_prf=10),
        replace(b, name="sentence rerank of the top 20 (weight 0.3)", lever="rerank", sentence_rerank=0.3),
        replace(b, name="MMR over the top 20 (lambda 0.7)", lever="diversity", mmr=0.7),
    ]


def run_levers(corpus: Corpus, embedder: Any, chosen: list[Variant],
               log: Callable[[str], None]) -> list[dict[str, Any]]:
    qvecs = dict(zip(corpus.queries, embedder.embed_queries(list(corpus.queries.values())), strict=True))
    builds: dict[tuple[Any, ...], Built] = {}
    rows = []
    for v in chosen:
        key = (v.chunk_tokens, v.chunk_overlap, v.title, v.k1, v.b)
        if key not in builds:
            t = time.perf_counter()
            builds[key] = build(corpus, v, embedder)
            log(f"{corpus.name}: built {key}: {len(builds[key].chunks)} chunks in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        result = evaluate(corpus, builds[key], v, embedder, qvecs)
        rows.append({"corpus": corpus.name, "lever": v.lever, "variant": v.name,
                     **{k: round(x, 4) for k, x in result.items()},
                     "ms_per_query": round(1000 * (time.perf_counter() - t) / len(corpus.queries), 1)})
        log(f"{corpus.name}: {v.name}: {result}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    from eval.embcache import CachedEmbedder
    from rag.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m eval.levers", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=("scifact", "squad", "both"), default="both")
    parser.add_argument("--squad-questions", type=int, default=1000)
    parser.add_argument("--only", help="comma-separated substrings of variant names (the baseline always runs)")
    parser.add_argument("--embedding-cache", default=".cache/seedrag-eval-embeddings")
    parser.add_argument("--out", default="eval/out/levers")
    args = parser.parse_args(argv)
    embedder = CachedEmbedder(Settings.from_env().embedder(), args.embedding_cache,
                              active=True)  # latency is not measured here: cache sentences too
    chosen = variants()
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        chosen = [v for v in chosen if v is BASE or any(w in v.name for w in wanted)]
    corpora: list[Callable[[], Corpus]] = []
    if args.corpus in ("scifact", "both"):
        corpora.append(scifact_corpus)
    if args.corpus in ("squad", "both"):
        corpora.append(lambda: squad_corpus(args.squad_questions))
    rows: list[dict[str, Any]] = []
    try:
        for make in corpora:
            rows += run_levers(make(), embedder, chosen, lambda m: print(m, file=sys.stderr, flush=True))
    finally:
        embedder.close()
    out = Path(args.out)
    report = Report("levers", {"variants": len(chosen), "embedding_cache (hits / embedded)":
                               f"{embedder.hits} / {embedder.misses}"}, rows,
                    tables={c: [r for r in rows if r["corpus"] == c] for c in {r["corpus"] for r in rows}})
    report.write(out)
    for c in sorted({r["corpus"] for r in rows}):
        print(markdown_table([{k: fmt(v) for k, v in r.items() if k != "corpus"} for r in rows if r["corpus"] == c]))
    print(json.dumps({"rows": len(rows)}), file=sys.stderr)
    return 0 if all(not math.isnan(float(r.get("ndcg@10", r.get("recall@5", 0)))) for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
