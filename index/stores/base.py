"""The Store contract. A backend keeps documents, chunks, vectors and the manifest, and answers
dense and lexical searches; `rag` talks to nothing else. Every backend passes
tests/index/test_store_conformance.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from index.chunking import Chunk
from index.documents import Document
from index.errors import IndexMismatchError, StoreError
from index.manifest import Manifest

SENTENCE_DTYPE = np.float16  # stored sentence vectors: half the bytes; they only order a passage's sentences


@dataclass(frozen=True)
class SentenceVectors:
    """The sentences of one chunk (document offsets, in order) and their vectors: row i embeds `spans[i]`.
    Computed at index time so that answering a question embeds nothing but the question. Stores keep them as
    float16 (`SENTENCE_DTYPE`): ~5 sentences x 384 dimensions x 2 bytes, ~4 KB per chunk."""

    spans: tuple[tuple[int, int], ...]
    vectors: np.ndarray


@dataclass(frozen=True)
class StoredDocument:
    """A document with its chunks and their vectors (row i of `vectors` embeds `chunks[i]`); `sentences[i]`
    holds the sentence vectors of `chunks[i]` (empty: not computed, the answerer embeds them when asked)."""

    document: Document
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray
    sentences: tuple[SentenceVectors, ...] = ()


class LexicalModel(Protocol):
    """Term statistics over a store's chunks: the answer extractor weighs the words a sentence shares with the
    question by their idf (`index.lexical.BM25.idf` conventions: Lucene's idf over chunks)."""

    def idf(self, term: str) -> float: ...


@runtime_checkable
class Store(Protocol):
    """Narrow storage contract. Writes are all-or-nothing: after a failed `apply`, the store is as before.
    Everything the engine, the servers and the benchmarks use of a store is declared here (the conformance tests
    of `index.stores.testing` check it)."""

    @property
    def location(self) -> str:
        """Where the index is, for people: the folder, or the database URL (the servers hide its password)."""
        ...

    def manifest(self) -> Manifest | None:
        """The manifest, or None for an empty store that was never written."""
        ...

    def apply(self, upserts: Sequence[StoredDocument], removals: Sequence[str], manifest: Manifest) -> None:
        """Atomically replace/add `upserts`, delete the documents named in `removals`, write `manifest`."""
        ...

    def search_dense(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """The k chunks whose vectors have the highest inner product with `vector`, best first."""
        ...

    def search_lexical(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        """The k chunks that best match `query` lexically (BM25 or full-text rank), best first."""
        ...

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, SentenceVectors]:
        """The stored sentence vectors of those of `chunk_ids` that have them (chunks indexed before sentence
        vectors were stored have none)."""
        ...

    def document(self, source: str) -> Document | None:
        """The full document text (for citation checks and the viewer)."""
        ...

    def sources(self) -> list[str]:
        """Every indexed document's source."""
        ...

    def chunk_count(self) -> int: ...

    def refresh(self) -> bool:
        """Pick up changes another process wrote; True if something changed."""
        ...

    def lexical_model(self) -> LexicalModel:
        """The idf look-ups over the chunks as they are now: the same object until the index changes (a write,
        or a `refresh` that found one), then a new one."""
        ...

    def close(self) -> None:
        """Release connections and files; the store is not used afterwards (a no-op where there are none)."""
        ...


REQUIRED = ("location", "manifest", "apply", "search_dense", "search_lexical", "document", "sources", "chunk_count",
            "refresh", "lexical_model", "close")  # sentence_vectors is optional: the engine embeds sentences without


def check_store(store: object) -> None:
    """Raise StoreError naming what `store` lacks of the contract (a third-party store written against an older
    one), instead of failing on the first question or silently scoring without idf."""
    missing = [name for name in REQUIRED if not hasattr(store, name)]
    if missing:
        raise StoreError(f"{type(store).__name__} lacks {', '.join(missing)} of the Store contract "
                         "(index/stores/base.py; its tests: index/stores/testing.py).")


def check_sentences(u: StoredDocument, dimension: int) -> None:
    """A StoreError/IndexMismatchError unless `u.sentences` is empty or one well-formed entry per chunk."""
    if not u.sentences:
        return
    if len(u.sentences) != len(u.chunks):
        raise StoreError(f"{u.document.source}: {len(u.chunks)} chunks but {len(u.sentences)} sentence lists")
    for chunk, held in zip(u.chunks, u.sentences, strict=True):
        if len(held.spans) != len(held.vectors) or any(not chunk.start <= a < b <= chunk.end for a, b in held.spans):
            raise StoreError(f"{u.document.source}: the sentence vectors of chunk {chunk.id} do not match its text")
        if len(held.vectors) and np.asarray(held.vectors).shape[1] != dimension:
            raise IndexMismatchError(
                f"{u.document.source}: sentence vectors have {np.asarray(held.vectors).shape[1]} dimensions, the "
                f"manifest says {dimension}. Re-index: seedrag index --rebuild")
