"""The evaluation embedding cache: same vectors as the model, the model skipped for texts seen before."""

from __future__ import annotations

import numpy as np


class CountingEmbedder:
    """Wraps the real embedder and counts the texts it embeds."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.embedded: list[str] = []

    @property
    def dimension(self):
        return self.inner.dimension

    def fits(self, texts):
        return self.inner.fits(texts)

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_documents(self, texts):
        self.embedded.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_documents_and_spans(self, texts, spans):
        self.embedded.extend(texts)
        return self.inner.embed_documents_and_spans(texts, spans)


def test_cache_returns_the_models_vectors_and_skips_known_texts(embedder, tmp_path):
    from eval.embcache import CachedEmbedder

    counting = CountingEmbedder(embedder)
    cache = CachedEmbedder(counting, tmp_path, active=True)
    texts = ["The ATACMS has a range of 190 miles.", "Ukraine received the missiles in 2023."]
    first = cache.embed_documents(texts)
    np.testing.assert_allclose(first, embedder.embed_documents(texts), atol=1e-6)
    assert (cache.hits, cache.misses) == (0, 2)
    cache.close()

    again = CachedEmbedder(counting, tmp_path, active=True)  # a later run: reads the file
    mixed = again.embed_documents([texts[1], "A new sentence.", texts[0]])
    np.testing.assert_allclose(mixed[[0, 2]], first[[1, 0]], atol=1e-6)
    np.testing.assert_allclose(mixed[1], embedder.embed_documents(["A new sentence."])[0], atol=1e-6)
    assert counting.embedded == [*texts, "A new sentence."]
    assert (again.hits, again.misses) == (2, 1)
    assert again.embed_queries(["q"]).shape == (1, embedder.dimension)


def test_cache_keeps_a_chunks_sentence_vectors_from_the_models_single_pass(embedder, tmp_path):
    from eval.embcache import CachedEmbedder

    texts = ["The ATACMS has a range of 190 miles. It was first used in 1991.", "Ukraine received them."]
    spans = [[(0, 36), (37, 63)], [(0, 22)]]
    model_vectors, model_spans = embedder.embed_documents_and_spans(texts, spans)
    counting = CountingEmbedder(embedder)
    first = CachedEmbedder(counting, tmp_path, active=True)
    vectors, per_text = first.embed_documents_and_spans(texts, spans)
    np.testing.assert_allclose(vectors, model_vectors, atol=1e-6)
    for got, want in zip(per_text, model_spans, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    first.close()

    again = CachedEmbedder(counting, tmp_path, active=True)
    vectors, per_text = again.embed_documents_and_spans(texts[::-1], spans[::-1])
    np.testing.assert_allclose(vectors, model_vectors[::-1], atol=1e-6)
    np.testing.assert_allclose(per_text[1], model_spans[0], atol=1e-6)
    assert counting.embedded == texts and (again.hits, again.misses) == (2, 0)
    again.embed_documents_and_spans(texts[:1], [[(0, 36)]])  # other spans of the same text: not the same entry
    assert counting.embedded == [*texts, texts[0]] and again.misses == 1
    np.testing.assert_allclose(again.embed_documents(texts), model_vectors, atol=1e-6)  # the chunk vectors too
    assert counting.embedded == [*texts, texts[0]] and again.hits == 4


def test_cache_serves_only_inside_caching(embedder, tmp_path):
    """Outside `caching()` (an answer's sentence embeddings, timed by the suites) the model always runs."""
    from eval.embcache import CachedEmbedder, caching

    counting = CountingEmbedder(embedder)
    cache = CachedEmbedder(counting, tmp_path)
    with caching(cache):
        cache.embed_documents(["Chunk text."])
    cache.embed_documents(["Chunk text."])
    assert counting.embedded == ["Chunk text.", "Chunk text."] and (cache.hits, cache.misses) == (0, 1)
    with caching(cache):
        cache.embed_documents(["Chunk text."])
    assert len(counting.embedded) == 2 and cache.hits == 1 and not cache.active


def test_scratch_url_keeps_other_parameters_and_sets_the_schema():
    from urllib.parse import parse_qs, urlsplit

    from eval.scratch import with_search_path

    url = with_search_path("postgresql://u:p@db.example:5432/rag?sslmode=require&options=-cwork_mem%3D64MB", "s1")
    parts = urlsplit(url)
    assert (parts.hostname, parts.port, parts.path, parts.password) == ("db.example", 5432, "/rag", "p")
    assert parse_qs(parts.query) == {"sslmode": ["require"], "options": ["-csearch_path=s1,public"]}
