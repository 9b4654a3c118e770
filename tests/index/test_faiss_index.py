"""The FAISS store's index kind by size: exact IndexFlatIP below `FLAT_MAX` chunks, an HNSW graph from there
on, written, reloaded and updated like the flat index. Real FAISS; the threshold is lowered to keep it fast."""

from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from index.stores import faiss as faiss_store
from index.stores.faiss import FaissStore
from index.stores.testing import DIM, manifest, stored

THRESHOLD = 50


def document(name: str, chunks: int, seed: int):
    """A document of `chunks` one-sentence chunks with random unit vectors."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((chunks, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return stored(name, [f"Sentence {i} of {name} mentions token{seed}x{i}." for i in range(chunks)], list(vectors))


def written_index(store: FaissStore):
    """The index in the live generation's vectors.faiss, read by FAISS alone."""
    return faiss.read_index(str(store.path / (store.path / "CURRENT").read_text().strip() / "vectors.faiss"))


def finds_itself(store: FaissStore, doc) -> bool:
    """Every chunk of `doc` is the best hit for its own vector, with score 1."""
    for chunk, vector in zip(doc.chunks, doc.vectors, strict=True):
        (best, score), *_ = store.search_dense(vector, 5)
        if best.id != chunk.id or abs(score - 1) > 1e-5:
            return False
    return True


@pytest.fixture
def low_threshold(monkeypatch):
    monkeypatch.setattr(faiss_store, "FLAT_MAX", THRESHOLD)


def test_above_the_threshold_an_hnsw_graph_is_written_reloaded_and_updated(tmp_path, low_threshold):
    alpha, beta, gamma = document("alpha.txt", 40, 1), document("beta.txt", 20, 2), document("gamma.txt", 5, 3)
    store = FaissStore(tmp_path / "index")
    store.apply([alpha, beta], [], manifest())
    on_disk = written_index(store)
    assert isinstance(on_disk, faiss.IndexHNSWFlat) and on_disk.metric_type == faiss.METRIC_INNER_PRODUCT
    assert on_disk.ntotal == 60 and on_disk.hnsw.efSearch == faiss_store.HNSW_EF_SEARCH

    reopened = FaissStore(tmp_path / "index", create=False)
    assert isinstance(reopened._index, faiss.IndexHNSWFlat)
    assert finds_itself(reopened, alpha) and finds_itself(reopened, beta)

    reopened.apply([gamma], ["beta.txt"], manifest())  # 45 chunks left: below the threshold, flat again
    assert type(written_index(reopened)) is faiss.IndexFlatIP
    reopened.apply([beta], [], manifest())
    assert isinstance(written_index(reopened), faiss.IndexHNSWFlat)
    reopened.apply([], ["gamma.txt"], manifest())  # a removal above the threshold: the graph is rebuilt
    again = FaissStore(tmp_path / "index", create=False)
    assert isinstance(again._index, faiss.IndexHNSWFlat) and again.chunk_count() == 60
    assert again.sources() == ["alpha.txt", "beta.txt"]
    assert finds_itself(again, alpha) and finds_itself(again, beta)
    assert not any(c.source == "gamma.txt" for c, _ in again.search_dense(gamma.vectors[0], 60))


def test_only_additions_extend_the_graph_and_a_removal_rebuilds_it(tmp_path, low_threshold, monkeypatch):
    built = []
    real = faiss.IndexHNSWFlat
    monkeypatch.setattr(faiss, "IndexHNSWFlat", lambda *a: built.append(a) or real(*a))
    alpha, beta, gamma = document("alpha.txt", 55, 1), document("beta.txt", 7, 2), document("gamma.txt", 3, 3)
    store = FaissStore(tmp_path / "index")
    store.apply([alpha], [], manifest())
    assert len(built) == 1
    store.apply([beta, gamma], [], manifest())  # additions only: the graph of alpha is copied and extended
    assert len(built) == 1 and store._index.ntotal == 65
    assert finds_itself(store, alpha) and finds_itself(store, beta) and finds_itself(store, gamma)
    store.apply([document("beta.txt", 9, 4)], [], manifest())  # beta replaced (more chunks): the old ones must go
    assert len(built) == 2 and store.chunk_count() == store._index.ntotal == 67
    assert finds_itself(store, document("beta.txt", 9, 4)) and finds_itself(store, alpha)
    assert finds_itself(store, gamma)


def test_below_the_threshold_the_index_stays_flat(tmp_path, low_threshold):
    store = FaissStore(tmp_path / "index")
    store.apply([document("alpha.txt", THRESHOLD - 1, 1)], [], manifest())
    assert type(written_index(store)) is faiss.IndexFlatIP
    assert type(FaissStore(tmp_path / "index")._index) is faiss.IndexFlatIP


def test_a_flat_generation_above_the_threshold_still_loads_and_turns_hnsw_on_the_next_write(tmp_path, monkeypatch):
    alpha = document("alpha.txt", 60, 1)
    FaissStore(tmp_path / "index").apply([alpha], [], manifest())  # the default threshold: flat, as before
    monkeypatch.setattr(faiss_store, "FLAT_MAX", THRESHOLD)
    store = FaissStore(tmp_path / "index", create=False)
    assert type(store._index) is faiss.IndexFlatIP and finds_itself(store, alpha)
    beta = document("beta.txt", 2, 2)
    store.apply([beta], [], manifest())
    assert isinstance(written_index(store), faiss.IndexHNSWFlat)
    assert finds_itself(store, alpha) and finds_itself(store, beta)


def test_the_search_beam_is_set_on_load_and_widened_for_long_lists(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((2000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    graph = faiss_store.vector_index(vectors, kind="hnsw")
    graph.hnsw.efSearch = 3
    faiss.write_index(graph, str(tmp_path / "vectors.faiss"))
    monkeypatch.setattr(faiss_store, "HNSW_EF_SEARCH", 16)
    loaded = faiss_store.read_vector_index(tmp_path / "vectors.faiss")
    assert isinstance(loaded, faiss.IndexHNSWFlat) and loaded.hnsw.efSearch == 16
    exact = faiss_store.vector_index(vectors, kind="flat")
    queries = vectors[:20] + 0.1 * rng.standard_normal((20, 32)).astype(np.float32)
    _, want = exact.search(queries, 200)
    _, got = faiss_store.search_vectors(loaded, queries, 200)  # a beam of 16 would miss many of 200
    recall = np.mean([len(set(g) & set(w)) / 200 for g, w in zip(got, want, strict=True)])
    assert recall > 0.95


def test_the_bm25_index_is_saved_with_its_generation_and_read_back_not_rebuilt(tmp_path, monkeypatch):
    """The first process that searches lexically builds BM25 and saves it in the live generation; the next one
    reads it (memory-mapped) and ranks the same; a write starts a new generation with its own."""
    from index import lexical
    from index.stores import faiss as faiss_store
    from index.stores.testing import ALPHA, BETA

    store = faiss_store.FaissStore(tmp_path / "index")
    store.apply([ALPHA, BETA], [], manifest())
    first = store.search_lexical("river coal", 5)
    generation = (tmp_path / "index" / "CURRENT").read_text().strip()
    assert (tmp_path / "index" / generation / "bm25" / "terms.json").exists()

    def no_build(self, texts, *args, **kwargs):
        raise AssertionError("BM25 was built again")

    with monkeypatch.context() as m:
        m.setattr(lexical.BM25, "__init__", no_build)
        again = faiss_store.FaissStore(tmp_path / "index")
        assert again.search_lexical("river coal", 5) == first
        assert again.lexical_model().idf("coal") == store.lexical_model().idf("coal")
    (tmp_path / "index" / generation / "bm25" / "terms.json").write_text("{broken")  # damaged: built again
    assert faiss_store.FaissStore(tmp_path / "index").search_lexical("river coal", 5) == first
    assert json.loads((tmp_path / "index" / generation / "bm25" / "terms.json").read_text())["size"] == 5  # mended
    store.apply([], ["beta.md"], manifest())
    assert store.search_lexical("river coal", 5) == []  # the new generation's own index
