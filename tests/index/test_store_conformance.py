"""The Store contract (index/stores/testing.py), checked on every backend (FAISS folder, FAISS with its HNSW
graph, PostgreSQL + pgvector), and what only PostgreSQL has (migrations, reconnects, SQL BM25)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.errors import IndexMismatchError, StoreError
from index.stores.base import StoredDocument
from index.stores.testing import (
    ALPHA,
    BETA,
    DIM,
    StoreContract,
    basis,
    ids,
    manifest,
    stored,
    widened,
)

BACKENDS = ["faiss", "faiss-hnsw", "postgres"]  # faiss-hnsw: the FAISS store with its HNSW graph from 1 chunk


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


class TestStoreConformance(StoreContract):
    """The shipped stores pass the contract (index/stores/testing.py)."""


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
