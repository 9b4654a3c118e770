"""The Store contract as tests a third-party store can reuse (as haystack.testing.document_store ships them).

    from index.stores.testing import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store_factory(self, tmp_path):
            return lambda **kw: MyStore(tmp_path / "index", **kw)

Documents, chunks and vectors are built by hand (8-dimensional, normalised), so no model is needed and every
expected score is known exactly. Needs pytest (a development dependency), imported only by tests.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from index.chunking import Chunk, chunk_id
from index.documents import Block, Document
from index.errors import IndexMismatchError, StoreError
from index.manifest import Manifest
from index.stores.base import SentenceVectors, Store, StoredDocument, check_store

DIM = 8


def unit(*weights: float) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(weights)] = weights
    return v / np.linalg.norm(v)


def basis(i: int) -> np.ndarray:
    return np.eye(DIM, dtype=np.float32)[i]


def stored(source: str, sentences: list[str], vectors: list[np.ndarray], version: str = "1",
           section: str = "") -> StoredDocument:
    """A document made of `sentences` (one chunk and one block each, exact offsets) and their vectors; with
    `section`, every chunk is under that heading path."""
    text = " ".join(sentences)
    chunks, blocks, at = [], [], 0
    for s in sentences:
        chunks.append(Chunk(chunk_id(source, at, at + len(s), s), source, s, at, at + len(s), section=section))
        blocks.append(Block(at, at + len(s), "paragraph"))
        at += len(s) + 1
    doc = Document(source, text, f"hash-{source}-{version}", title=sentences[0][:20], blocks=tuple(blocks))
    return StoredDocument(doc, tuple(chunks), np.asarray(vectors, dtype=np.float32).reshape(-1, DIM))


def manifest(dimension: int = DIM, **extra: object) -> Manifest:
    return Manifest(embedding_model="hand-made", dimension=dimension, chunk_tokens=200, chunk_overlap=40,
                    extra=dict(extra))


ALPHA = stored("alpha.txt", [
    "The zeppelin crossed the channel at dawn.",
    "Weather over the sea was calm and clear.",
], [basis(0), basis(1)])
BETA = stored("beta.md", [
    "Artillery shells were stockpiled near the river.",
    "The river froze in January, halting barges.",
    "Barges carried grain and coal downstream.",
], [basis(2), unit(1, 0, 1), basis(3)], section="Logistics › Winter")


def widened(d: StoredDocument) -> StoredDocument:
    """The same document with vectors of twice the dimension (still normalised)."""
    return StoredDocument(d.document, d.chunks, np.hstack([d.vectors, d.vectors]) / np.sqrt(2))


def with_sentences(d: StoredDocument, shift: int = 0) -> StoredDocument:
    """`d` with two sentence vectors per chunk: its first word and the rest (`shift` moves the second span
    outside the chunk, to make a malformed write)."""
    held = []
    for n, c in enumerate(d.chunks):
        cut = c.start + c.text.index(" ")
        held.append(SentenceVectors(((c.start, cut), (cut + 1, c.end + shift)),
                                    np.stack([basis((2 * n) % DIM), unit(1, n + 1)])))
    return StoredDocument(d.document, d.chunks, d.vectors, tuple(held))


def ids(results: list[tuple[Chunk, float]]) -> list[str]:
    return [c.id for c, _ in results]


class StoreContract:
    """The tests every Store must pass. Subclass it in a test module as `class TestMyStore(StoreContract)` and
    give a `store_factory` fixture: a function that makes a new store object over one fresh, empty location on
    each call (two calls: two objects over the same data, as two processes would have)."""


    def test_empty_store(self, store_factory):
        store = store_factory()
        assert isinstance(store, Store)
        check_store(store)
        assert isinstance(store.location, str) and store.location
        assert store.manifest() is None
        assert store.chunk_count() == 0
        assert store.sources() == []
        assert store.document("alpha.txt") is None
        assert store.search_dense(basis(0), 5) == []
        assert store.search_lexical("zeppelin", 5) == []
        assert store.refresh() is False

    def test_dense_search_best_first_with_inner_product(self, store_factory):
        store = store_factory()
        store.apply([ALPHA, BETA], [], manifest())
        assert store.chunk_count() == 5
        assert store.sources() == ["alpha.txt", "beta.md"]

        query = unit(0.2, 1.0, 0.1)
        results = store.search_dense(query, 3)
        expected_scores = sorted(
            ((float(v @ query), c.id) for d in (ALPHA, BETA) for c, v in zip(d.chunks, d.vectors, strict=True)),
            reverse=True,
        )[:3]
        assert ids(results) == [i for _, i in expected_scores]
        assert ids(results)[0] == ALPHA.chunks[1].id
        for (_, got), (want, _) in zip(results, expected_scores, strict=True):
            assert got == pytest.approx(want, abs=1e-5)
        first = results[0][0]
        assert first == ALPHA.chunks[1]
        assert store.document("alpha.txt").text[first.start:first.end] == first.text
        assert len(store.search_dense(query, 50)) == 5

    def test_the_lexical_model_weighs_rare_words_and_follows_the_index(self, store_factory):
        store = store_factory()
        store.apply([ALPHA, BETA], [], manifest())
        model = store.lexical_model()
        assert model.idf("coal") > model.idf("river") > 0  # one chunk has "coal", two have "river"
        assert model.idf("xylophone") >= model.idf("coal")  # a word no chunk has weighs most
        assert store.lexical_model() is model  # the same until the index changes
        store.apply([], ["beta.md"], manifest())
        after = store.lexical_model()
        assert after is not model and after.idf("river") == after.idf("xylophone")  # "river" is gone
        reader = store_factory()
        reader.apply([BETA], [], manifest())  # another writer: seen after a refresh
        assert store.refresh() and store.lexical_model().idf("river") < store.lexical_model().idf("xylophone")
        store.close()
        reader.close()

    def test_lexical_finds_rare_word_only(self, store_factory):
        store = store_factory()
        store.apply([ALPHA, BETA], [], manifest())
        hits = store.search_lexical("Which zeppelins crossed?", 5)
        assert hits and hits[0][0].id == ALPHA.chunks[0].id
        assert all(score > 0 for _, score in hits)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        assert store.search_lexical("xylophone", 5) == []
        # a rarer word outweighs a common one: "river" is in two chunks, "coal" in one
        assert store.search_lexical("river coal", 5)[0][0].id == BETA.chunks[2].id

    def test_update_replaces_document_chunks(self, store_factory):
        store = store_factory()
        store.apply([ALPHA, BETA], [], manifest())
        old_ids = {c.id for c in ALPHA.chunks}
        new = stored("alpha.txt", ["An airship landed at the aerodrome in spring."], [basis(0)], version="2")
        store.apply([new], [], manifest())

        assert store.chunk_count() == 4
        assert store.document("alpha.txt").text == new.document.text
        assert store.manifest().files["alpha.txt"] == "hash-alpha.txt-2"
        found = set(ids(store.search_dense(basis(0), 10)))
        assert not old_ids & found
        assert new.chunks[0].id in found
        assert store.search_lexical("zeppelin", 5) == []
        assert ids(store.search_lexical("aerodrome", 5)) == [new.chunks[0].id]

    def test_delete_removes_document_and_chunks(self, store_factory):
        store = store_factory()
        store.apply([ALPHA, BETA], [], manifest())
        store.apply([], ["beta.md"], manifest())
        assert store.sources() == ["alpha.txt"]
        assert store.document("beta.md") is None
        assert store.chunk_count() == 2
        assert set(ids(store.search_dense(basis(2), 10))) == {c.id for c in ALPHA.chunks}
        assert store.search_lexical("barges river", 5) == []
        assert set(store.manifest().files) == {"alpha.txt"}

    def test_manifest_round_trip(self, store_factory):
        store = store_factory()
        written = Manifest(**{**manifest(threshold=0.42).to_json(), "files": {"stale.txt": "ignored"}})
        store.apply([ALPHA, BETA], [], written)
        got = store_factory().manifest()
        assert got.files == {"alpha.txt": "hash-alpha.txt-1", "beta.md": "hash-beta.md-1"}
        assert got.extra == {"threshold": 0.42}
        assert (got.embedding_model, got.dimension, got.chunk_tokens, got.chunk_overlap, got.format) == (
            written.embedding_model, DIM, 200, 40, written.format)
        assert got.packages == written.packages

    def test_persistence_across_store_objects(self, store_factory):
        store_factory().apply([ALPHA, BETA], [], manifest())
        again = store_factory()
        assert again.chunk_count() == 5
        assert again.sources() == ["alpha.txt", "beta.md"]
        assert again.document("beta.md") == BETA.document
        assert ids(again.search_dense(basis(3), 1)) == [BETA.chunks[2].id]
        assert ids(again.search_lexical("grain coal", 1)) == [BETA.chunks[2].id]

    def test_block_maps_and_heading_paths_are_kept_and_searched(self, store_factory):
        store_factory().apply([ALPHA, BETA], [], manifest())
        again = store_factory()
        assert again.document("beta.md").blocks == BETA.document.blocks  # the map over offsets round-trips
        hits = again.search_dense(basis(3), 1) + again.search_lexical("grain coal", 1)
        assert [c.section for c, _ in hits] == ["Logistics › Winter"] * 2
        assert again.search_lexical("zeppelin", 5)[0][0].section == ""

    def test_refresh_sees_another_writer(self, store_factory):
        reader, writer = store_factory(), store_factory()
        assert reader.refresh() is False
        writer.apply([ALPHA], [], manifest())
        assert reader.refresh() is True
        assert reader.manifest() is not None and reader.chunk_count() == 2
        assert reader.refresh() is False
        writer.apply([BETA], [], manifest())
        assert reader.refresh() is True
        assert reader.chunk_count() == 5
        assert ids(reader.search_dense(basis(3), 1)) == [BETA.chunks[2].id]

    def test_sentence_vectors_round_trip_and_follow_their_chunks(self, store_factory):
        store = store_factory()
        beta = with_sentences(BETA)
        store.apply([ALPHA, beta], [], manifest())  # alpha without sentence vectors, as an older index has
        wanted = [c.id for c in BETA.chunks] + [ALPHA.chunks[0].id, "no-such-chunk"]
        for s in (store, store_factory()):  # and read back from disk / the database by a new object
            got = s.sentence_vectors(wanted)
            assert set(got) == {c.id for c in BETA.chunks}
            for c, held in zip(BETA.chunks, beta.sentences, strict=True):
                assert got[c.id].spans == held.spans
                assert np.allclose(got[c.id].vectors, held.vectors, atol=1e-3)  # kept as float16
        gamma = with_sentences(stored("gamma.txt", ["Gamma rays burst."], [basis(4)]))
        store.apply([gamma], ["alpha.txt"], manifest())
        assert set(store.sentence_vectors(wanted)) == {c.id for c in BETA.chunks}  # kept across writes
        store.apply([], ["beta.md"], manifest())
        assert store.sentence_vectors(wanted) == {}  # gone with their document
        assert set(store_factory().sentence_vectors([gamma.chunks[0].id])) == {gamma.chunks[0].id}

    def test_sentence_vectors_outside_their_chunk_are_refused_and_change_nothing(self, store_factory):
        store = store_factory()
        store.apply([ALPHA, with_sentences(BETA)], [], manifest())
        before = (store.manifest(), store.chunk_count(), store.sources(), store.search_dense(basis(1), 5))
        gamma = stored("gamma.txt", ["Gamma rays burst."], [basis(4)])
        with pytest.raises(StoreError, match="sentence vectors of chunk"):
            store.apply([with_sentences(gamma, shift=5)], ["alpha.txt"], manifest())
        self.assert_unchanged(store_factory, store, before)
        assert len(store.sentence_vectors([c.id for c in BETA.chunks])) == 3

    def test_failed_apply_leaves_previous_state(self, store_factory):
        store = store_factory()
        store.apply([ALPHA, BETA], [], manifest())
        before = (store.manifest(), store.chunk_count(), store.sources(), store.search_dense(basis(1), 5))
        gamma = stored("gamma.txt", ["Gamma rays."], [basis(4)])
        miscounted = StoredDocument(gamma.document, gamma.chunks, np.ones((2, DIM), dtype=np.float32))
        with pytest.raises(StoreError, match="1 chunks but 2 vectors"):
            store.apply([gamma, miscounted], ["beta.md"], manifest())
        self.assert_unchanged(store_factory, store, before)

    def test_wrong_dimension_is_refused_and_changes_nothing(self, store_factory):
        store = store_factory()
        store.apply([ALPHA, BETA], [], manifest())
        before = (store.manifest(), store.chunk_count(), store.sources(), store.search_dense(basis(1), 5))
        gamma = stored("gamma.txt", ["Gamma rays."], [basis(4)])
        wrong_dim = StoredDocument(gamma.document, gamma.chunks, np.ones((1, DIM + 4), dtype=np.float32))
        with pytest.raises(IndexMismatchError, match="dimensions"):  # vectors disagree with the manifest
            store.apply([wrong_dim], ["alpha.txt"], manifest())
        with pytest.raises(IndexMismatchError, match="dimension"):  # old vectors of another size remain
            store.apply([widened(gamma)], [], manifest(2 * DIM))
        self.assert_unchanged(store_factory, store, before)

    @staticmethod
    def assert_unchanged(store_factory, store, before) -> None:
        for s in (store, store_factory()):
            s.refresh()
            assert (s.manifest(), s.chunk_count(), s.sources(), s.search_dense(basis(1), 5)) == before
            assert s.document("gamma.txt") is None

    def test_concurrent_readers_see_old_or_new_state(self, store_factory):
        states = [
            stored("doc.txt", ["Alpha one sits here.", "Alpha two sits there."], [basis(0), basis(1)], "a"),
            stored("doc.txt", ["Alpha three moved.", "Alpha four moved.", "Alpha five."],
                   [basis(0), basis(1), basis(2)], "b"),
        ]
        valid = [frozenset(c.id for c in s.chunks) for s in states]
        writer = store_factory()
        writer.apply([states[0]], [], manifest())
        readers = [store_factory(), store_factory(), writer]
        done, errors, reads = threading.Event(), [], [0, 0, 0]

        def read(n: int) -> None:
            store = readers[n]
            try:
                while not done.is_set():
                    store.refresh()
                    dense = frozenset(ids(store.search_dense(unit(1, 1, 1), 10)))
                    lexical = frozenset(ids(store.search_lexical("alpha", 10)))
                    assert dense in valid, f"mixed dense state {sorted(dense)}"
                    assert lexical in valid, f"mixed lexical state {sorted(lexical)}"
                    reads[n] += 1
            except Exception as exc:  # reported in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=read, args=(n,)) for n in range(len(readers))]
        for t in threads:
            t.start()
        try:
            for i in range(12):
                writer.apply([states[(i + 1) % 2]], [], manifest())
                time.sleep(0.01)
        finally:
            done.set()
            for t in threads:
                t.join(30)
        assert not errors, errors[0]
        assert all(reads), reads
        assert frozenset(ids(writer.search_dense(unit(1, 1, 1), 10))) == valid[0]
