"""An opt-in cache of document embeddings for repeated evaluation runs (`seedrag eval --embedding-cache DIR`).

Embedding SciFact's 5,183 abstracts takes minutes on a CPU; comparing two stores or several retrieval
settings over the same chunks should not pay that again. Vectors are keyed by the model's name and the
sha256 of the exact chunk text (and, for a chunk's sentence vectors, of their spans), kept in one SQLite
file per model. Only index builds use it (inside
`with caching(embedder):`); queries, and sentences embedded at question time, always go to the model, since
their latency is part of what the suites measure. A report built from cached vectors says how many came
from the cache, because its build throughput is then not the model's.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import Embedder, embed_with_spans


class CachedEmbedder:
    """Wraps an `Embedder`; while `active`, `embed_documents` reads and fills the cache; everything else,
    and `embed_documents` while inactive, goes straight to the model."""

    def __init__(self, inner: Embedder, folder: str | Path, active: bool = False) -> None:
        self.inner = inner
        self.name = inner.name
        self.active = active
        self.hits = 0
        self.misses = 0
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        key = getattr(inner, "cache_key", inner.name)  # backends with the same name but other vectors differ here
        self.path = folder / (re.sub(r"[^A-Za-z0-9._-]+", "_", key) + ".sqlite")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        # a chunk's vector followed by its spans' vectors (embed_documents_and_spans), rows of `dimension` floats
        self._db.execute("CREATE TABLE IF NOT EXISTS spans (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def fits(self, texts: Sequence[str]) -> list[bool]:
        return self.inner.fits(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not self.active:
            return self.inner.embed_documents(texts)
        keys = [hashlib.sha256(t.encode("utf-8")).digest() for t in texts]
        rows = self._cached("vectors", keys, [1] * len(texts),
                            lambda idx: list(self.inner.embed_documents([texts[i] for i in idx])))
        return np.vstack(rows) if rows else np.zeros((0, self.dimension), dtype=np.float32)

    def embed_documents_and_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                                  ) -> tuple[np.ndarray, list[np.ndarray]]:
        if not self.active:
            return embed_with_spans(self.inner, texts, spans)

        def compute(idx: list[int]) -> list[np.ndarray]:
            vectors, per_text = embed_with_spans(self.inner, [texts[i] for i in idx], [spans[i] for i in idx])
            # the chunk vectors also serve `embed_documents` of the same texts (the lever harness embeds chunks)
            self._put("vectors", [hashlib.sha256(texts[i].encode("utf-8")).digest() for i in idx], list(vectors))
            return [np.vstack([v[None, :], s.reshape(-1, self.dimension)]) for v, s in zip(vectors, per_text,
                                                                                          strict=True)]

        keys = [hashlib.sha256((t + "\0" + json.dumps([list(x) for x in s])).encode("utf-8")).digest()
                for t, s in zip(texts, spans, strict=True)]
        rows = self._cached("spans", keys, [1 + len(s) for s in spans], compute)
        vectors = np.stack([r[0] for r in rows]) if rows else np.zeros((0, self.dimension), dtype=np.float32)
        return vectors, [r[1:] for r in rows]

    def _cached(self, table: str, keys: list[bytes], rows: list[int], compute: Any) -> list[np.ndarray]:
        """For each key, its `rows` x dimension float32 matrix from `table`, or from `compute(missing indexes)`
        (then stored)."""
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for at in range(0, len(keys), 500):
                batch = keys[at:at + 500]
                marks = ",".join("?" * len(batch))
                for key, blob in self._db.execute(f"SELECT key, vector FROM {table} WHERE key IN ({marks})", batch):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = [i for i, k in enumerate(keys) if k not in found or found[k].size != rows[i] * self.dimension]
        out = [found.get(k, np.zeros(0, np.float32)).reshape(-1, self.dimension) for k in keys]
        if missing:
            fresh = compute(missing)
            self._put(table, [keys[i] for i in missing], fresh)
            for j, i in enumerate(missing):
                out[i] = np.asarray(fresh[j], dtype=np.float32).reshape(-1, self.dimension)
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        return out

    def _put(self, table: str, keys: list[bytes], matrices: Sequence[np.ndarray]) -> None:
        with self._lock, self._db:
            self._db.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?)",
                                 [(k, np.asarray(m, dtype=np.float32).tobytes()) for k, m in zip(keys, matrices,
                                                                                                 strict=True)])

    def close(self) -> None:
        self._db.close()


@contextmanager
def caching(embedder: Any) -> Iterator[None]:
    """Inside: a `CachedEmbedder` serves document vectors from its cache (any other embedder: no effect)."""
    if not isinstance(embedder, CachedEmbedder):
        yield
        return
    before, embedder.active = embedder.active, True
    try:
        yield
    finally:
        embedder.active = before


def cached_run(folder: str | Path, run: Any, quick: bool = False) -> Any:
    """`run(settings, quick=..., embedder=...)` with the current settings (SEEDRAG_*) and the settings' model
    behind a cache in `folder`; what the lever scripts' `main` share."""
    from rag.settings import Settings

    settings = Settings.from_env()
    embedder = CachedEmbedder(settings.embedder(), folder)
    try:
        return run(settings, quick=quick, embedder=embedder)
    finally:
        embedder.close()
