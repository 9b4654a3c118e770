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
from index.manifest import Manifest


@dataclass(frozen=True)
class StoredDocument:
    """A document with its chunks and their vectors (row i of `vectors` embeds `chunks[i]`)."""

    document: Document
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray


@runtime_checkable
class Store(Protocol):
    """Narrow storage contract. Writes are all-or-nothing: after a failed `apply`, the store is as before."""

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
