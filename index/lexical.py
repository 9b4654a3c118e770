"""BM25 over chunks (bm25s, Lucene variant, English stop words and Snowball stemming)."""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_WORD = re.compile(r"(?u)\b\w\w+\b|\b\d\b")
K1, B = 0.9, 0.4  # BM25 parameters of every store (Lucene's idf and length normalisation)


@functools.cache
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed terms of `text`.

    >>> terms("The missiles were launched")
    ['missil', 'were', 'launch']
    """
    words = [w for w in _WORD.findall(text.lower()) if w not in _stopwords()]
    return list(_stemmer().stemWords(words))


def idf(chunks: int, df: int) -> float:
    """Lucene's idf: ln(1 + (N - df + 0.5) / (df + 0.5))."""
    return math.log(1 + (chunks - df + 0.5) / (df + 0.5))


class BM25:
    """A BM25 index over a list of texts; `search` returns (positions, scores), best first."""

    def __init__(self, texts: Sequence[str], k1: float = K1, b: float = B) -> None:
        import bm25s

        self.size = len(texts)
        tokenized = [terms(t) for t in texts]
        df: Counter[str] = Counter()
        for toks in tokenized:
            df.update(set(toks))
        self._df = df
        self._model = bm25s.BM25(k1=k1, b=b, method="lucene")
        if self.size:
            # an empty token list would break bm25s; give such texts a token that never matches
            self._model.index([toks or ["\x00"] for toks in tokenized], show_progress=False)

    FILES_VERSION = 1  # the layout `save` writes; `load` refuses another

    def save(self, folder: Path) -> None:
        """Write the index into `folder` (bm25s' arrays and vocabulary, and the document frequencies)."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.size:
            self._model.save(str(folder), show_progress=False)
        (folder / "terms.json").write_text(json.dumps(
            {"version": self.FILES_VERSION, "size": self.size, "df": self._df}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> BM25:
        """The index `save` wrote into `folder`, its arrays memory-mapped; ValueError/OSError if it is not one."""
        import bm25s

        data = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        if data.get("version") != cls.FILES_VERSION:
            raise ValueError(f"BM25 files of version {data.get('version')!r}, expected {cls.FILES_VERSION}")
        self = cls.__new__(cls)
        self.size = int(data["size"])
        self._df = Counter(data["df"])
        self._model = bm25s.BM25.load(str(folder), mmap=True, show_progress=False, verbosity=0) if self.size else \
            bm25s.BM25(k1=K1, b=B, method="lucene")
        return self

    def idf(self, term: str) -> float:
        """Lucene's idf of a (stemmed) term; unseen terms get the highest idf."""
        return idf(self.size, self._df.get(term, 0))

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        known = [t for t in terms(query) if t in self._df]
        if not known or not self.size or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        docs, scores = self._model.retrieve([known], k=min(k, self.size), show_progress=False, n_threads=1)
        docs, scores = docs[0], scores[0]
        keep = scores > 0
        return docs[keep].astype(np.int64), scores[keep].astype(np.float32)
