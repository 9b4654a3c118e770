"""Hybrid retrieval: dense (FAISS/pgvector) and lexical (BM25/full-text) lists fused into one ranking."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from index.chunking import Chunk
from index.embedding import Embedder
from index.stores.base import Store

RRF_K = 60  # the constant of Cormack et al. (2009)


@dataclass(frozen=True)
class Hit:
    """A retrieved passage: `text == document(source).text[start:end]`, with its fused and raw scores."""

    chunk_id: str
    source: str
    text: str
    start: int
    end: int
    page: int | None
    score: float
    dense_score: float | None
    lexical_score: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Retriever:
    """Fuses the dense and lexical rankings of a store.

    `fusion="rrf"` sums 1/(60 + rank) over both lists; `"weighted"` mixes the cosine similarity with the
    BM25 score scaled to [0, 1] by the best BM25 score of the query.
    """

    def __init__(self, store: Store, embedder: Embedder, fusion: str = "rrf", dense_weight: float = 0.5,
                 depth: int = 50) -> None:
        self.store = store
        self.embedder = embedder
        self.fusion = fusion
        self.dense_weight = dense_weight
        self.depth = depth

    def retrieve(self, query: str, k: int, query_vector: np.ndarray | None = None) -> list[Hit]:
        if query_vector is None:
            query_vector = self.embedder.embed_queries([query])[0]
        depth = max(self.depth, k)
        dense = self.store.search_dense(query_vector, depth)
        lexical = self.store.search_lexical(query, depth)
        return fuse(dense, lexical, k, self.fusion, self.dense_weight)


def fuse(
    dense: list[tuple[Chunk, float]], lexical: list[tuple[Chunk, float]], k: int,
    fusion: str = "rrf", dense_weight: float = 0.5,
) -> list[Hit]:
    chunks: dict[str, Chunk] = {}
    dense_s: dict[str, float] = {}
    lex_s: dict[str, float] = {}
    fused: dict[str, float] = {}
    top_lex = max((s for _, s in lexical), default=0.0) or 1.0
    for rank, (c, s) in enumerate(dense):
        chunks[c.id], dense_s[c.id] = c, s
        fused[c.id] = fused.get(c.id, 0.0) + (
            1.0 / (RRF_K + rank + 1) if fusion == "rrf" else dense_weight * s
        )
    for rank, (c, s) in enumerate(lexical):
        chunks[c.id], lex_s[c.id] = c, s
        fused[c.id] = fused.get(c.id, 0.0) + (
            1.0 / (RRF_K + rank + 1) if fusion == "rrf" else (1 - dense_weight) * s / top_lex
        )
    # ties are common under RRF (rank r in one list only); break them by the cosine, then the BM25 score, so the
    # order depends on the passages, not on chunk ids (hashes of file names)
    best = sorted(fused, key=lambda i: (-fused[i], -dense_s.get(i, -1.0), -lex_s.get(i, 0.0), i))[:k]
    return [
        Hit(i, chunks[i].source, chunks[i].text, chunks[i].start, chunks[i].end, chunks[i].page,
            fused[i], dense_s.get(i), lex_s.get(i))
        for i in best
    ]
