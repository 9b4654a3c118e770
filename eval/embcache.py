"""An opt-in cache of document embeddings for repeated evaluation runs (`seedrag eval --embedding-cache DIR`).

Embedding SciFact's 5,183 abstracts takes minutes on a CPU; comparing two stores or several retrieval
settings over the same chunks should not pay that again. Vectors are keyed by the model's name and the
sha256 of the exact chunk text, kept in one SQLite file per model. Only index builds use it (inside
`with caching(embedder):`); queries and the answerer's sentence embeddings always go to the model, since
their latency is part of what the suites measure. A report built from cached vectors says how many came
from the cache, because its build throughput is then not the model's.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import Embedder


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
        self.path = folder / (re.sub(r"[^A-Za-z0-9._-]+", "_", inner.name) + ".sqlite")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")

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
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for at in range(0, len(keys), 500):
                batch = keys[at:at + 500]
                marks = ",".join("?" * len(batch))
                for key, blob in self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = [i for i, k in enumerate(keys) if k not in found or found[k].shape[0] != self.dimension]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if missing:
            fresh = self.inner.embed_documents([texts[i] for i in missing])
            with self._lock, self._db:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                     [(keys[i], fresh[j].astype(np.float32).tobytes()) for j, i in enumerate(missing)])
            for j, i in enumerate(missing):
                out[i] = fresh[j]
        skip = set(missing)
        hit = [i for i in range(len(texts)) if i not in skip]
        for i in hit:
            out[i] = found[keys[i]]
        self.hits += len(hit)
        self.misses += len(missing)
        return out

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
