"""Test helpers shipped with the package: the Embedder contract as tests, and a deterministic embedder.

    from index.testing import EmbedderContract

    class TestMyEmbedder(EmbedderContract):
        @pytest.fixture
        def embedder_under_test(self):
            return MyEmbedder()

`HashEmbedder` turns words into hashed features: no model, the same vectors on every machine, texts sharing words
are close. It is for tests of pure logic (fusion, storage, chunk bookkeeping), never for answer quality. Needs
pytest to run (a development dependency); imported only by tests.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from index.embedding import Embedder, embed_with_spans

_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Each word adds +1 or -1 to a few hashed dimensions; the sum, L2-normalised. `max_words` plays the model's
    input limit for `fits`."""

    def __init__(self, dimension: int = 64, max_words: int = 256) -> None:
        self.name = f"hash-{dimension}"
        self._dimension = dimension
        self.max_words = max_words

    @property
    def dimension(self) -> int:
        return self._dimension

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self._dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            for i in range(0, 8, 2):
                v[int.from_bytes(digest[i:i + 2], "little") % self._dimension] += 1 if digest[i] & 1 else -1
        norm = float(np.linalg.norm(v))
        if norm == 0:
            v[0], norm = 1.0, 1.0  # a text without words still gets a unit vector
        return v / norm

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self._dimension), np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)

    def fits(self, texts: Sequence[str]) -> list[bool]:
        return [len(_WORD.findall(t)) <= self.max_words for t in texts]


class EmbedderContract:
    """The tests every Embedder must pass; give an `embedder_under_test` fixture."""

    TEXTS = ("The zeppelin crossed the channel at dawn.", "Barges carried grain and coal downstream.")

    def test_is_an_embedder_with_a_name_and_a_dimension(self, embedder_under_test: Embedder) -> None:
        assert isinstance(embedder_under_test, Embedder)
        e = embedder_under_test
        assert isinstance(e.name, str) and e.name and e.dimension > 0

    def test_vectors_are_float32_normalised_one_row_per_text(self, embedder_under_test: Embedder) -> None:
        e = embedder_under_test
        for vectors in (e.embed_documents(list(self.TEXTS)), e.embed_queries(list(self.TEXTS))):
            assert vectors.dtype == np.float32 and vectors.shape == (2, e.dimension)
            assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
        assert embedder_under_test.embed_documents([]).shape[0] == 0

    def test_the_same_text_gets_the_same_vector_in_any_company(self, embedder_under_test: Embedder) -> None:
        alone = embedder_under_test.embed_documents([self.TEXTS[0]])[0]
        among = embedder_under_test.embed_documents([self.TEXTS[1], self.TEXTS[0], "x " * 50])[1]
        assert float(alone @ among) > 0.999

    def test_a_text_is_closer_to_itself_than_to_another(self, embedder_under_test: Embedder) -> None:
        q = embedder_under_test.embed_queries(["Which zeppelin crossed the channel?"])[0]
        d = embedder_under_test.embed_documents(list(self.TEXTS))
        assert float(q @ d[0]) > float(q @ d[1])

    def test_fits_says_which_texts_the_input_takes_whole(self, embedder_under_test: Embedder) -> None:
        assert embedder_under_test.fits(["A short sentence."]) == [True]
        assert embedder_under_test.fits(["word " * 5000]) == [False]

    def test_span_vectors_come_one_per_span(self, embedder_under_test: Embedder) -> None:
        text = self.TEXTS[0] + " " + self.TEXTS[1]
        cut = len(self.TEXTS[0])
        vectors, spans = embed_with_spans(embedder_under_test, [text], [[(0, cut), (cut + 1, len(text))]])
        dim = embedder_under_test.dimension
        assert vectors.shape == (1, dim) and spans[0].shape == (2, dim)
        assert np.allclose(np.linalg.norm(spans[0], axis=1), 1.0, atol=1e-3)


__all__ = ["EmbedderContract", "HashEmbedder"]
