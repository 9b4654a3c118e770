"""The shared store: PostgreSQL + pgvector, for an index that several processes or machines serve.

Tables (created on first use by numbered migrations, recorded in `seedrag_migrations`)::

    seedrag_documents  source (pk), text, content_hash, title, pages int[], blocks jsonb (the block map)
    seedrag_chunks     id (pk), source (fk, on delete cascade), text, start, "end", page, section,
                       embedding vector(dim) + HNSW index (vector_ip_ops),
                       terms text[] (the chunk's distinct BM25 terms) + GIN index, counts int[] (each
                       term's count), length (number of terms), sentence_spans int[] (start, end pairs of
                       the chunk's sentences) + sentence_vectors bytea (their float16 vectors; NULL: indexed
                       before sentence vectors were stored)
    seedrag_manifest   one row: the manifest (jsonb), a change counter `version`, the chunk and term counts
    seedrag_terms      term -> number of chunks holding it (document frequency, for idf)

Choices, and why:

* The embedding column starts untyped; the first `apply` types it `vector(manifest.dimension)` and
  builds the HNSW index. A typed column makes pgvector reject a vector of another size, and lets a plain
  `ORDER BY embedding <#> q` use the index (an untyped one needs an expression index and a cast in
  every query). Another dimension is refused while old vectors remain; a rebuild retypes the column.
* Chunk text is stored, not sliced from the document, with its BM25 terms computed at write time.
* `apply` is one transaction: a failed or killed write leaves the previous index, and readers see the
  old state until the commit. A load that at least doubles the table rebuilds the HNSW index once
  (~5x faster than inserting into it); readers wait for that commit rather than see a partial index.
* Lexical search is the same BM25 as the FAISS store's, computed in SQL: the chunk's terms are
  `index.lexical.terms` (our tokenizer, stop words and Snowball stems, not PostgreSQL's `english`
  parser), stored as an array of distinct terms with their counts beside; the GIN index finds the chunks
  holding any query term (`&&`); the score is Lucene BM25 (k1, b of `index.lexical`) with idf from
  `seedrag_terms` and the mean length from `seedrag_manifest`, both kept exact by `apply`. So both
  stores rank alike (equal scores; only ties may order differently). The commonest terms are left out
  of candidate generation when that provably cannot change the top k (MaxScore).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from index.chunking import Chunk
from index.documents import Document, blocks_from_json, blocks_to_json
from index.errors import IndexMismatchError, IndexNotFoundError, StoreError
from index.lexical import K1, B, idf, terms
from index.manifest import Manifest
from index.stores.base import SENTENCE_DTYPE, SentenceVectors, StoredDocument, check_sentences

T = TypeVar("T")
HNSW_MAX_DIM = 2000  # pgvector's limit for an HNSW index on `vector`; beyond it, search scans exactly
BULK_ROWS = 2000  # a write adding this many chunks, and at least as many as remain, rebuilds the index
_LOCK_KEY = 0x5EED_8A6  # advisory lock shared by migrations and writers

MIGRATIONS: tuple[str, ...] = (
    # 1: documents, chunks, manifest
    """
    CREATE TABLE seedrag_documents (
        source text PRIMARY KEY, text text NOT NULL, content_hash text NOT NULL,
        title text NOT NULL DEFAULT '', pages integer[] NOT NULL DEFAULT '{}');
    CREATE TABLE seedrag_chunks (
        id text PRIMARY KEY,
        source text NOT NULL REFERENCES seedrag_documents (source) ON DELETE CASCADE,
        text text NOT NULL, start integer NOT NULL, "end" integer NOT NULL, page integer,
        embedding vector NOT NULL,
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED);
    CREATE INDEX seedrag_chunks_source ON seedrag_chunks (source);
    CREATE INDEX seedrag_chunks_tsv ON seedrag_chunks USING gin (tsv);
    CREATE TABLE seedrag_manifest (
        one boolean PRIMARY KEY DEFAULT true CHECK (one), manifest jsonb,
        version bigint NOT NULL DEFAULT 0, chunks bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO seedrag_manifest DEFAULT VALUES;
    """,
    # 2: document frequencies for idf
    """
    CREATE TABLE seedrag_terms (lexeme text PRIMARY KEY, df integer NOT NULL);
    """,
    # 3: our own BM25 terms instead of PostgreSQL's english parser (filled by `_backfill_terms`)
    """
    ALTER TABLE seedrag_chunks DROP COLUMN tsv;
    ALTER TABLE seedrag_chunks ADD COLUMN terms text[] NOT NULL DEFAULT '{}';
    ALTER TABLE seedrag_chunks ADD COLUMN counts integer[] NOT NULL DEFAULT '{}';
    ALTER TABLE seedrag_chunks ADD COLUMN length integer NOT NULL DEFAULT 0;
    CREATE INDEX seedrag_chunks_terms ON seedrag_chunks USING gin (terms);
    ALTER TABLE seedrag_manifest ADD COLUMN terms bigint NOT NULL DEFAULT 0;
    TRUNCATE seedrag_terms;
    """,
    # 4: block maps of documents and heading paths of chunks (older rows: none, until re-indexed)
    """
    ALTER TABLE seedrag_documents ADD COLUMN blocks jsonb NOT NULL DEFAULT '[]';
    ALTER TABLE seedrag_chunks ADD COLUMN section text NOT NULL DEFAULT '';
    """,
    # 5: sentence vectors computed at index time (older rows: NULL, until re-indexed)
    """
    ALTER TABLE seedrag_chunks ADD COLUMN sentence_spans integer[] NOT NULL DEFAULT '{}';
    ALTER TABLE seedrag_chunks ADD COLUMN sentence_vectors bytea;
    """,
)

_QUERY_TERMS = """
SELECT t.lexeme, t.df, m.chunks, m.terms FROM seedrag_terms t CROSS JOIN seedrag_manifest m
WHERE t.lexeme = ANY(%s)
"""

# BM25 (Lucene): sum over query terms of weight * tf / (tf + k1 * (1 - b + b * length / mean length))
_LEXICAL_SQL = """
WITH q AS MATERIALIZED (SELECT * FROM unnest(%(terms)s::text[], %(weight)s::float8[]) AS q (lexeme, weight))
SELECT c.id, c.source, c.text, c.start, c."end", c.page, c.section,
       (SELECT sum(q.weight * t.tf / (t.tf + %(k1)s * (1 - %(b)s + %(b)s * c.length / %(mean)s)))
        FROM q CROSS JOIN LATERAL (SELECT c.counts[array_position(c.terms, q.lexeme)]::float8 AS tf) AS t
        WHERE t.tf IS NOT NULL) AS score
FROM seedrag_chunks c WHERE c.terms && %(any)s::text[]
ORDER BY score DESC, c.id LIMIT %(k)s
"""

_TERMS_OF = """
SELECT l, count(*) FROM seedrag_chunks c, unnest(c.terms) AS l
WHERE c.source = ANY(%s) GROUP BY l
"""


def _sentence_columns(held: SentenceVectors | None) -> tuple[list[int], bytes | None]:
    """The sentence_spans and sentence_vectors values of a chunk."""
    if held is None:
        return [], None
    flat = [x for span in held.spans for x in span]
    return flat, np.ascontiguousarray(held.vectors, dtype=SENTENCE_DTYPE).tobytes()


def term_counts(text: str) -> tuple[list[str], list[int], int]:
    """(the chunk's distinct BM25 terms, their counts, its length: the number of terms, at least 1 as bm25s
    counts a chunk without terms)."""
    counts = Counter(terms(text))
    return list(counts), list(counts.values()), max(1, sum(counts.values()))


class PostgresStore:
    """Documents, chunks and vectors in PostgreSQL; nothing but the manifest is held in memory.

    >>> store = PostgresStore("postgresql://postgres@127.0.0.1:5432/seedrag")  # doctest: +SKIP
    >>> store.search_dense(query_vector, k=5)  # doctest: +SKIP
    """

    def __init__(self, url: str, create: bool = True, fresh: bool = False) -> None:
        """Connect and bring the schema up to date. `fresh=True` starts from an empty store (a rebuild):
        the old rows stay, and are served to other processes, until the first `apply` replaces them."""
        import psycopg.conninfo

        self.url = url
        try:
            info = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise StoreError(f"Bad PostgreSQL URL: {exc}. Expected postgresql://user@host:port/db") from exc
        host, port = info.get("host") or "localhost", info.get("port") or 5432
        self._where = f"{host}:{port}/{info.get('dbname') or ''}"  # never the URL: it may hold a password
        self._lock = threading.RLock()
        self._conn: Any = None
        self._ef_search = 0
        self._fresh = fresh
        self._manifest: Manifest | None = None
        self._version = -1
        self._chunks = 0
        self._terms: _TermStats | None = None
        with self._lock:
            self._migrate()
            self._load()
        if not create and self._manifest is None:
            raise IndexNotFoundError(
                f"No index in PostgreSQL at {self._where}. Build one first: seedrag index seeds/"
            )

    # ---- connection ----------------------------------------------------------------------------
    def _connect(self) -> Any:
        import psycopg

        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise StoreError(
                f"Cannot connect to PostgreSQL at {self._where}: {reason}. Start the server (e.g. "
                "`pg_ctl -D <data dir> start`, or `docker run -p 5432:5432 -e POSTGRES_PASSWORD=... "
                "pgvector/pgvector:pg17`) or point SEEDRAG_STORE at a running one."
            ) from exc
        self._conn, self._ef_search = conn, 0
        if self._has_vector(conn):
            from pgvector.psycopg import register_vector

            register_vector(conn)
        return conn

    @staticmethod
    def _has_vector(conn: Any) -> bool:
        return conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is not None

    def _read(self, work: Callable[[Any], T]) -> T:
        """Run `work(connection)` under the lock; retry once on a fresh connection if the old one broke."""
        import psycopg

        with self._lock:
            for attempt in (1, 2):
                conn = self._connect()
                try:
                    return work(conn)
                except psycopg.OperationalError as exc:
                    if attempt == 2 or not (conn.closed or conn.broken):
                        raise StoreError(f"PostgreSQL at {self._where} failed: {exc}") from exc
                except psycopg.Error as exc:
                    raise StoreError(f"PostgreSQL at {self._where} failed: {exc}") from exc
        raise AssertionError("unreachable")

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """One transaction holding the writers' advisory lock; psycopg errors become `StoreError`."""
        import psycopg

        with self._lock:
            conn = self._connect()
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                    yield conn
            except psycopg.Error as exc:
                raise StoreError(
                    f"Writing to PostgreSQL at {self._where} failed: {exc}. The previous index is intact."
                ) from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ---- schema --------------------------------------------------------------------------------
    def _migrate(self) -> None:
        import psycopg

        conn = self._connect()
        if not self._has_vector(conn):
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except psycopg.Error as exc:
                raise StoreError(
                    f"The PostgreSQL database at {self._where} lacks the pgvector extension and seedrag "
                    f"cannot add it ({str(exc).strip().splitlines()[0]}). Install pgvector on the server "
                    "(github.com/pgvector/pgvector), then as a superuser run: CREATE EXTENSION vector;"
                ) from exc
            self.close()  # reconnect so the vector type gets registered
        with self._transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS seedrag_migrations "
                         "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            done = conn.execute("SELECT coalesce(max(version), 0) FROM seedrag_migrations").fetchone()[0]
            if done > len(MIGRATIONS):
                raise StoreError(
                    f"The seedrag tables at {self._where} have schema version {done}; this seedrag knows "
                    f"up to {len(MIGRATIONS)}. Upgrade seedrag."
                )
            for version in range(done + 1, len(MIGRATIONS) + 1):
                conn.execute(MIGRATIONS[version - 1])
                if version == 3:
                    _backfill_terms(conn)
                conn.execute("INSERT INTO seedrag_migrations (version) VALUES (%s)", (version,))

    # ---- reading -------------------------------------------------------------------------------
    def _load(self) -> None:
        row = self._read(lambda c: c.execute(
            "SELECT manifest, version, chunks FROM seedrag_manifest").fetchone())
        self._version = row[1]
        if self._fresh:
            self._manifest, self._chunks = None, 0
            return
        self._manifest = Manifest.from_json(row[0]) if row[0] is not None else None
        self._chunks = row[2]

    def refresh(self) -> bool:
        if self._fresh:
            return False
        version = self._read(lambda c: c.execute("SELECT version FROM seedrag_manifest").fetchone()[0])
        if version == self._version:
            return False
        self._load()
        return True

    def manifest(self) -> Manifest | None:
        return self._manifest

    def chunk_count(self) -> int:
        return self._chunks

    def document(self, source: str) -> Document | None:
        if self._fresh:
            return None
        row = self._read(lambda c: c.execute(
            "SELECT source, text, content_hash, title, pages, blocks FROM seedrag_documents WHERE source = %s",
            (source,),
        ).fetchone())
        if row is None:
            return None
        return Document(row[0], row[1], row[2], row[3], tuple(row[4]), blocks_from_json(row[5]))

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, SentenceVectors]:
        if self._fresh or not chunk_ids:
            return {}
        rows = self._read(lambda c: c.execute(
            "SELECT id, sentence_spans, sentence_vectors FROM seedrag_chunks "
            "WHERE id = ANY(%s) AND sentence_vectors IS NOT NULL", (list(chunk_ids),)).fetchall())
        out = {}
        for chunk_id, flat, blob in rows:
            spans = tuple(zip(flat[0::2], flat[1::2], strict=True))
            vectors = np.frombuffer(blob, dtype=SENTENCE_DTYPE).reshape(len(spans), -1) if spans else \
                np.zeros((0, 0), dtype=np.float32)
            out[chunk_id] = SentenceVectors(spans, vectors)
        return out

    def sources(self) -> list[str]:
        if self._fresh:
            return []
        return self._read(lambda c: [r[0] for r in c.execute(
            "SELECT source FROM seedrag_documents ORDER BY source").fetchall()])

    def search_dense(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        if self._fresh or k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        if self._manifest is not None and query.shape[0] != self._manifest.dimension:
            raise IndexMismatchError(
                f"Query vectors have {query.shape[0]} dimensions, the index {self._manifest.dimension}. "
                "Re-index with the current model: seedrag index --rebuild"
            )

        def run(conn: Any) -> list[tuple[Chunk, float]]:
            ef = min(max(k, 100), 1000)  # HNSW returns at most ef_search rows; more than k also helps recall
            if ef != self._ef_search:
                conn.execute("SELECT set_config('hnsw.ef_search', %s, false), "
                             "set_config('hnsw.iterative_scan', 'strict_order', false)", (str(ef),))
                self._ef_search = ef
            rows = conn.execute(
                'SELECT id, source, text, start, "end", page, section, -(embedding <#> %s) FROM seedrag_chunks '
                "ORDER BY embedding <#> %s LIMIT %s", (query, query, k),
            ).fetchall()
            return [(Chunk(*r[:7]), float(r[7])) for r in rows]

        return self._read(run)

    def search_lexical(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        if self._fresh or k <= 0 or not query.strip():
            return []

        counts = Counter(terms(query))
        if not counts:
            return []

        def run(conn: Any) -> list[Any]:
            with conn.transaction():  # one snapshot for the statistics and the rows
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                stats = conn.execute(_QUERY_TERMS, (list(counts),)).fetchall()
                if not stats:
                    return []
                chunks, total = stats[0][2], stats[0][3]
                # weight = idf * the term's count in the query (as bm25s); rarest (heaviest) last
                known = sorted(((lex, idf(chunks, df) * counts[lex]) for lex, df, _, _ in stats),
                               key=lambda t: (t[1], t[0]))
                weight = [w for _, w in known]
                names = [lex for lex, _ in known]
                params = {"terms": names, "weight": weight, "k": k, "k1": K1, "b": B,
                          "mean": max(total / max(chunks, 1), 1e-9)}
                # MaxScore pruning: a term adds at most its weight (tf -> infinity). The commonest terms, whose
                # joint maximum is below one occurrence of the rarest term in a chunk of mean length, do not
                # make candidates by themselves. If the k-th best candidate still beats that maximum, no
                # chunk holding only pruned terms could enter the top k; else search again with all terms.
                once = weight[-1] / (1 + K1)
                bound, common = 0.0, 0
                while common < len(weight) - 1 and bound + weight[common] < once:
                    bound += weight[common]
                    common += 1
                if common:
                    rows = conn.execute(_LEXICAL_SQL, {**params, "any": names[common:]}).fetchall()
                    if len(rows) == k and rows[-1][7] > bound:
                        return rows  # type: ignore[no-any-return]
                return conn.execute(_LEXICAL_SQL, {**params, "any": names}).fetchall()

        rows = self._read(run)
        return [(Chunk(*r[:7]), float(r[7])) for r in rows if r[7] is not None and r[7] > 0]

    @property
    def location(self) -> str:
        return self.url

    def lexical_model(self) -> _TermStats:
        """Document frequencies for the answer extractor's idf look-ups (one small query per new term, kept
        until the index changes)."""
        if self._terms is None or self._terms.version != self._version:
            self._terms = _TermStats(self)
        return self._terms

    # ---- writing -------------------------------------------------------------------------------
    def apply(self, upserts: Sequence[StoredDocument], removals: Sequence[str], manifest: Manifest) -> None:
        rows: list[tuple[Any, ...]] = []
        for u in upserts:
            vectors = np.asarray(u.vectors, dtype=np.float32)
            if len(u.chunks) != len(vectors):
                raise StoreError(f"{u.document.source}: {len(u.chunks)} chunks but {len(vectors)} vectors")
            if len(vectors) and (vectors.ndim != 2 or vectors.shape[1] != manifest.dimension):
                raise IndexMismatchError(
                    f"{u.document.source}: vectors have {vectors.shape[-1]} dimensions, the manifest says "
                    f"{manifest.dimension}. Re-index: seedrag index --rebuild"
                )
            check_sentences(u, manifest.dimension)
            held = u.sentences or (None,) * len(u.chunks)
            rows.extend((c.id, c.source, c.text, c.start, c.end, c.page, c.section, v, *term_counts(c.text),
                         *_sentence_columns(h))
                        for c, v, h in zip(u.chunks, vectors, held, strict=True))
        from psycopg.types.json import Jsonb

        docs = [u.document for u in upserts]
        replaced = sorted(set(removals) | {d.source for d in docs})
        with self._transaction() as conn:
            if self._fresh:
                conn.execute("DELETE FROM seedrag_documents")
                conn.execute("DELETE FROM seedrag_terms")
            elif replaced:
                conn.execute(f"UPDATE seedrag_terms t SET df = t.df - d.n "
                             f"FROM ({_TERMS_OF}) AS d (lexeme, n) WHERE t.lexeme = d.lexeme", (replaced,))
                conn.execute("DELETE FROM seedrag_terms WHERE df <= 0")
                conn.execute("DELETE FROM seedrag_documents WHERE source = ANY(%s)", (replaced,))
            bulk = self._prepare_vectors(conn, manifest.dimension, len(rows))
            with conn.cursor() as cur:
                if docs:
                    cur.executemany(
                        "INSERT INTO seedrag_documents (source, text, content_hash, title, pages, blocks) "
                        "VALUES (%s, %s, %s, %s, %s, %s)",
                        [(d.source, d.text, d.content_hash, d.title, list(d.pages), Jsonb(blocks_to_json(d.blocks)))
                         for d in docs])
                with cur.copy('COPY seedrag_chunks (id, source, text, start, "end", page, section, embedding, terms, '
                              'counts, length, sentence_spans, sentence_vectors) FROM STDIN (FORMAT BINARY)') as copy:
                    copy.set_types(["text", "text", "text", "int4", "int4", "int4", "text", "vector", "text[]",
                                    "int4[]", "int4", "int4[]", "bytea"])
                    for row in rows:
                        copy.write_row(row)
            if bulk and manifest.dimension <= HNSW_MAX_DIM:
                # the graph builds several times faster when it fits in memory
                conn.execute("SELECT set_config('maintenance_work_mem', '512MB', true) FROM pg_settings "
                             "WHERE name = 'maintenance_work_mem' AND setting::bigint < 512 * 1024")
                conn.execute("CREATE INDEX seedrag_chunks_embedding ON seedrag_chunks "
                             "USING hnsw (embedding vector_ip_ops)")
            if docs:
                conn.execute(f"INSERT INTO seedrag_terms (lexeme, df) {_TERMS_OF} ON CONFLICT (lexeme) "
                             "DO UPDATE SET df = seedrag_terms.df + excluded.df", ([d.source for d in docs],))
            files = dict(conn.execute("SELECT source, content_hash FROM seedrag_documents").fetchall())
            written = Manifest(**{**manifest.to_json(), "files": files})

            conn.execute("UPDATE seedrag_manifest SET manifest = %s, version = version + 1, "
                         "chunks = (SELECT count(*) FROM seedrag_chunks), "
                         "terms = (SELECT coalesce(sum(length), 0) FROM seedrag_chunks), updated_at = now()",
                         (Jsonb(written.to_json()),))
        self._fresh = False
        self._load()

    def _prepare_vectors(self, conn: Any, dimension: int, adding: int) -> bool:
        """Make the embedding column `vector(dimension)`; True if the caller must (re)build the HNSW index.

        Another dimension is refused while old vectors remain. A load that at least doubles the table
        drops the index and has it rebuilt at the end: one HNSW build is ~5x faster than as many inserts.
        """
        stored = _stored_dimension(conn)
        remaining = conn.execute("SELECT count(*) FROM seedrag_chunks").fetchone()[0]
        if stored != dimension and stored > 0 and remaining:
            raise IndexMismatchError(
                f"The index at {self._where} holds {stored}-dimensional vectors; this write has {dimension}. "
                "Re-index everything with the current model: seedrag index --rebuild"
            )
        rebuild = stored != dimension or adding >= max(remaining, BULK_ROWS)
        if rebuild:
            conn.execute("DROP INDEX IF EXISTS seedrag_chunks_embedding")
        if stored != dimension:
            conn.execute(f"ALTER TABLE seedrag_chunks ALTER COLUMN embedding TYPE vector({int(dimension)})")
        return rebuild


def _backfill_terms(conn: Any) -> None:
    """Migration 3 on an index that has chunks: compute their terms here (PostgreSQL cannot run our tokenizer)."""
    rows = conn.execute("SELECT id, text FROM seedrag_chunks").fetchall()  # (no sections before migration 4)
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany("UPDATE seedrag_chunks SET terms = %s, counts = %s, length = %s WHERE id = %s",
                        [(*term_counts(text), chunk_id) for chunk_id, text in rows])
    conn.execute("INSERT INTO seedrag_terms (lexeme, df) SELECT l, count(*) FROM seedrag_chunks c, "
                 "unnest(c.terms) AS l GROUP BY l")
    conn.execute("UPDATE seedrag_manifest SET terms = (SELECT coalesce(sum(length), 0) FROM seedrag_chunks), "
                 "version = version + 1")


def _stored_dimension(conn: Any) -> int:
    """The typed dimension of the embedding column, or -1 before the first write."""
    return int(conn.execute(
        "SELECT atttypmod FROM pg_attribute "
        "WHERE attrelid = 'seedrag_chunks'::regclass AND attname = 'embedding'"
    ).fetchone()[0])


class _TermStats:
    """Lucene idf over the store's chunks at one index version, as `index.lexical.BM25.idf` (the same terms in
    both); each term is looked up once."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self.size = store.chunk_count()
        self.version = store._version
        self._seen: dict[str, float] = {}

    def idf(self, term: str) -> float:
        if term not in self._seen:
            row = self._store._read(lambda c: c.execute(
                "SELECT df FROM seedrag_terms WHERE lexeme = %s", (term,)).fetchone())
            self._seen[term] = idf(self.size, row[0] if row else 0)
        return self._seen[term]
