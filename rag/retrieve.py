"""Hybrid retrieval: dense (FAISS/pgvector) and lexical (BM25/full-text) lists fused into one ranking."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from index.chunking import Chunk
from index.embedding import Embedder
from index.stores.base import Store

RRF_K = 60  # the constant of Cormack et al. (2009)
NORM_DEPTH = 50  # "mix" scales each list from its top score (1) to its score at this rank (0)


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
    section: str = ""  # heading path of the passage: "Data Types › Integer Overflow"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Retriever:
    """Fuses the dense and lexical rankings of a store.

    `fusion="mix"` (the default) adds `dense_weight` x the min-max-normalised cosine and the rest x the
    min-max-normalised BM25 score, each list scaled from its best score (1) to its score at rank NORM_DEPTH
    (0, lower clipped), so a passage's fused score does not depend on how many are asked for.
    `"rrf"` sums 1/(60 + rank) over both lists; `"weighted"` mixes the raw cosine with the BM25 score
    divided by the query's best BM25 score. Measured on SciFact and SQuAD in the README (`eval.levers`).
    """

    def __init__(self, store: Store, embedder: Embedder, fusion: str = "mix", dense_weight: float = 0.5,
                 depth: int = NORM_DEPTH) -> None:
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
    fusion: str = "mix", dense_weight: float = 0.5,
) -> list[Hit]:
    """The top `k` of the fused lists (each best first); see `Retriever` for the fusion methods."""
    if fusion == "mix":
        dense_n, lexical_n = _minmax([s for _, s in dense]), _minmax([s for _, s in lexical])
    chunks: dict[str, Chunk] = {}
    dense_s: dict[str, float] = {}
    lex_s: dict[str, float] = {}
    fused: dict[str, float] = {}
    top_lex = max((s for _, s in lexical), default=0.0) or 1.0
    for rank, (c, s) in enumerate(dense):
        chunks[c.id], dense_s[c.id] = c, s
        fused[c.id] = fused.get(c.id, 0.0) + (
            1.0 / (RRF_K + rank + 1) if fusion == "rrf" else dense_weight * (dense_n[rank] if fusion == "mix" else s)
        )
    for rank, (c, s) in enumerate(lexical):
        chunks[c.id], lex_s[c.id] = c, s
        fused[c.id] = fused.get(c.id, 0.0) + (
            1.0 / (RRF_K + rank + 1) if fusion == "rrf"
            else (1 - dense_weight) * (lexical_n[rank] if fusion == "mix" else s / top_lex)
        )
    # ties are common under RRF (rank r in one list only); break them by the cosine, then the BM25 score, so the
    # order depends on the passages, not on chunk ids (hashes of file names)
    best = sorted(fused, key=lambda i: (-fused[i], -dense_s.get(i, -1.0), -lex_s.get(i, 0.0), i))[:k]
    return [
        Hit(i, chunks[i].source, chunks[i].text, chunks[i].start, chunks[i].end, chunks[i].page,
            fused[i], dense_s.get(i), lex_s.get(i), chunks[i].section)
        for i in best
    ]


def _minmax(scores: list[float]) -> list[float]:
    """Scores (best first) scaled so the best is 1 and the one at rank NORM_DEPTH is 0; lower ones clip to 0.

    A list shorter than NORM_DEPTH holds every match (a BM25 list of a rare term): its floor is 0, the score
    of what did not match, not its own last score."""
    if not scores:
        return []
    hi = scores[0]
    lo = scores[NORM_DEPTH - 1] if len(scores) >= NORM_DEPTH else min(0.0, scores[-1])
    if hi <= lo:
        return [1.0 if s >= hi else 0.0 for s in scores]
    return [max(0.0, (s - lo) / (hi - lo)) for s in scores]
