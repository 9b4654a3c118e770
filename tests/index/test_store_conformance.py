"""The Store contract, checked on every backend (FAISS folder and PostgreSQL + pgvector).

Documents, chunks and vectors are built by hand (8-dimensional, normalised), so no model is needed and
every expected score is known exactly.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from index.chunking import Chunk, chunk_id
from index.documents import Block, Document
from index.errors import IndexMismatchError, StoreError
from index.manifest import Manifest
from index.stores.base import SentenceVectors, Store, StoredDocument

DIM = 8
BACKENDS = ["faiss", "faiss-hnsw", "postgres"]  # faiss-hnsw: the FAISS store with its HNSW graph from 1 chunk


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


@pytest.fixture(params=BACKENDS)
def store_factory(request, tmp_path):
    """A function making store objects over one fresh, empty location (each call: a new object)."""
    if request.param.startswith("faiss"):
        from index.stores import faiss as faiss_store

        if request.param == "faiss-hnsw":
            request.getfixturevalue("monkeypatch").setattr(faiss_store, "FLAT_MAX", 1)
        return lambda **kw: faiss_store.FaissStore(tmp_path / "index", **kw)
    url = request.getfixturevalue("postgres_db_url")
    from index.stores.postgres import PostgresStore

    made: list[PostgresStore] = []

    def make(**kw):
        made.append(PostgresStore(url, **kw))
        return made[-1]

    request.addfinalizer(lambda: [s.close() for s in made])
    return make


class TestStoreConformance:
    def test_empty_store(self, store_factory):
        store = store_factory()
        assert isinstance(store, Store)
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



# ---- both backends side by side ---------------------------------------------------------------------
def test_same_data_same_dense_ranking_on_both_backends(tmp_path, postgres_db_url):
    from index.stores.faiss import FaissStore
    from index.stores.postgres import PostgresStore

    rng = np.random.default_rng(7)
    words = ["river", "barge", "grain", "coal", "winter", "harbour", "signal", "convoy", "bridge", "ferry"]
    docs = []
    for d in range(12):
        sentences = [f"Report {d}-{i} on the {words[(d + i) % 10]} and the {words[(3 * d + i) % 10]}."
                     for i in range(5)]
        vectors = rng.normal(size=(5, DIM)).astype(np.float32)
        docs.append(stored(f"doc{d:02d}.txt", sentences, list(vectors / np.linalg.norm(vectors, axis=1)[:, None])))
    faiss, pg = FaissStore(tmp_path / "index"), PostgresStore(postgres_db_url)
    try:
        for store in (faiss, pg):
            store.apply(docs, [], manifest())
        assert faiss.chunk_count() == pg.chunk_count() == 60
        for _ in range(10):
            query = rng.normal(size=DIM).astype(np.float32)
            query /= np.linalg.norm(query)
            a, b = faiss.search_dense(query, 10), pg.search_dense(query, 10)
            assert ids(a) == ids(b)
            assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-5)
        for query in ("convoy", "ferries", "bridge harbour", "the convoy's winter bridge, the bridge"):
            matched = {c.id for d in docs for c in d.chunks
                       if any(w[:4] in c.text for w in query.split() if w not in ("the",))}
            a, b = faiss.search_lexical(query, 100), pg.search_lexical(query, 100)
            assert set(ids(a)) == set(ids(b)) == matched  # the same BM25: same matches, same scores
            assert sorted(s for _, s in a) == pytest.approx(sorted(s for _, s in b), rel=1e-5)
            assert dict((c.id, s) for c, s in a) == pytest.approx(dict((c.id, s) for c, s in b), rel=1e-5)
    finally:
        pg.close()


# ---- PostgreSQL specifics ---------------------------------------------------------------------------
def test_postgres_database_error_mid_write_rolls_back(postgres_db_url):
    from index.stores.postgres import PostgresStore

    store = PostgresStore(postgres_db_url)
    store.apply([ALPHA], [], manifest())
    clash = stored("copy.txt", ["x"], [basis(0)])
    clash = StoredDocument(clash.document, (ALPHA.chunks[0],), clash.vectors)  # a chunk id already taken
    with pytest.raises(StoreError, match="previous index is intact"):
        store.apply([BETA, clash], [], manifest())
    assert store.sources() == ["alpha.txt"] and store.chunk_count() == 2
    assert ids(store.search_lexical("barges", 5)) == []
    assert store.lexical_model().idf("barg") == store.lexical_model().idf("neverseen")
    store.close()


def test_postgres_rebuild_may_change_dimension(postgres_db_url):
    from index.stores.postgres import PostgresStore

    PostgresStore(postgres_db_url).apply([ALPHA, BETA], [], manifest())
    fresh = PostgresStore(postgres_db_url, fresh=True)
    assert fresh.manifest() is None and fresh.search_dense(basis(0), 3) == []
    fresh.apply([widened(ALPHA)], [], manifest(2 * DIM))
    again = PostgresStore(postgres_db_url)
    assert again.manifest().dimension == 2 * DIM and again.sources() == ["alpha.txt"]
    assert ids(again.search_dense(widened(ALPHA).vectors[1], 1)) == [ALPHA.chunks[1].id]
    with pytest.raises(IndexMismatchError, match="dimensions"):
        again.search_dense(basis(0), 1)


def test_postgres_idf_matches_bm25_conventions(postgres_db_url):
    from index.lexical import BM25, terms
    from index.stores.postgres import PostgresStore

    store = PostgresStore(postgres_db_url)
    store.apply([ALPHA, BETA], [], manifest())
    bm25 = BM25([c.text for d in (ALPHA, BETA) for c in d.chunks])
    model = store.lexical_model()
    for term in [*terms("river barges zeppelin unknownword"), "the"]:
        assert model.idf(term) == pytest.approx(bm25.idf(term))
    assert model.idf("river") < model.idf("unknownword")


def test_postgres_lexical_pruning_is_exact(postgres_db_url):
    """The pruned search returns exactly the top k of scoring every chunk with BM25 (bm25s over all chunks)."""
    from index.lexical import BM25
    from index.stores.postgres import PostgresStore

    filler = [f"Common report number {i} about weather." for i in range(50)]
    rare = ["The rare okapi was common.", "Okapi okapi okapi seen.", "Okapi tracks, common too."]
    other = [f"Nothing shared here {i}." for i in range(7)]
    doc = stored("many.txt", filler + rare + other, [basis(i % DIM) for i in range(60)])
    store = PostgresStore(postgres_db_url)
    store.apply([doc], [], manifest())
    query = "common okapi"
    positions, scores = BM25([c.text for c in doc.chunks]).search(query, 100)
    brute = [cid for _, cid in sorted((-round(float(s), 5), doc.chunks[i].id)
                                      for i, s in zip(positions.tolist(), scores, strict=True))]
    assert len(brute) == 53 and set(brute[:3]) == {c.id for c in doc.chunks[50:53]}
    for k in (1, 2, 3, 4, 10, 53, 100):  # k <= 3 takes the pruned path, larger k the full one
        assert ids(store.search_lexical(query, k)) == brute[:k]
    store.close()


def test_postgres_reconnects_after_the_connection_drops(postgres_db_url):
    import psycopg

    from index.stores.postgres import PostgresStore

    store = PostgresStore(postgres_db_url)
    store.apply([ALPHA], [], manifest())
    with psycopg.connect(postgres_db_url, autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
    assert killed == 1
    assert ids(store.search_dense(basis(0), 1)) == [ALPHA.chunks[0].id]
    assert ids(store.search_lexical("zeppelin", 1)) == [ALPHA.chunks[0].id]
    store.close()


def test_postgres_unreachable_names_host_and_fix():
    import socket

    from index.stores.postgres import PostgresStore

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreError, match=rf"127\.0\.0\.1:{port}.*Start the server"):
        PostgresStore(f"postgresql://postgres@127.0.0.1:{port}/seedrag")


def test_postgres_missing_pgvector_says_how_to_install(postgres_url):
    import uuid

    import psycopg

    from index.stores.postgres import PostgresStore

    name = f"seedrag_novec_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
        conn.execute(f'ALTER DATABASE "{name}" OWNER TO "{name}"')
    try:
        url = postgres_url.replace("postgres@", f"{name}@").rsplit("/", 1)[0] + f"/{name}"
        with pytest.raises(StoreError, match="CREATE EXTENSION vector"):
            PostgresStore(url)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE "{name}"')


def test_postgres_upgrade_from_schema_2_computes_the_terms(postgres_db_url):
    """An index written by an older seedrag (schema 2: PostgreSQL's english parser) is migrated in place:
    its chunks get our BM25 terms, and lexical search ranks them as the FAISS store would."""
    import psycopg

    from index.lexical import BM25
    from index.stores.postgres import MIGRATIONS, PostgresStore

    old = stored("old.txt", ["The barges carried grain.", "Winter convoys crossed the river."], [basis(0), basis(1)])
    with psycopg.connect(postgres_db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE seedrag_migrations (version integer PRIMARY KEY, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        for version in (1, 2):
            conn.execute(MIGRATIONS[version - 1])
            conn.execute("INSERT INTO seedrag_migrations (version) VALUES (%s)", (version,))
        conn.execute("INSERT INTO seedrag_documents (source, text, content_hash) VALUES (%s, %s, 'h')",
                     (old.document.source, old.document.text))
        for c, v in zip(old.chunks, old.vectors, strict=True):
            conn.execute('INSERT INTO seedrag_chunks (id, source, text, start, "end", page, embedding) '
                         "VALUES (%s, %s, %s, %s, %s, %s, %s::vector)",
                         (c.id, c.source, c.text, c.start, c.end, c.page, str(list(map(float, v)))))
        conn.execute("UPDATE seedrag_manifest SET manifest = %s, chunks = 2",
                     (json.dumps(manifest().to_json()),))
    store = PostgresStore(postgres_db_url)
    bm25 = BM25([c.text for c in old.chunks])
    for query in ("barges", "winter river", "convoy grain"):
        positions, scores = bm25.search(query, 5)
        got = store.search_lexical(query, 5)
        assert ids(got) == [old.chunks[i].id for i in positions.tolist()]
        assert [s for _, s in got] == pytest.approx(scores.tolist(), rel=1e-5)
    assert store.sentence_vectors([c.id for c in old.chunks]) == {}  # none until re-indexed: asked, they are embedded
    store.close()
