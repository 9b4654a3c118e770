"""Synthetic pgvector scale benchmark: a table of N 384-dimensional vectors (the MiniLM size) in the layout
`index.stores.postgres` uses, its HNSW index built the way the store builds it (vector_ip_ops, pgvector's
defaults m=16, ef_construction=64), then top-10 queries timed and checked against exact search.

Default 1,000,000 vectors (`--limit N` for another count, `--quick` 20,000). Against `--store URL` when
given (a scratch schema, dropped afterwards), else a throw-away local server (`eval.pglocal`) with
maintenance_work_mem large enough for the graph to be built in memory.

The vectors are not uniform noise (on which no ANN index works well and no real corpus looks like):
a mixture of 2,000 Gaussian clusters around random unit centres, normalised, the shape of sentence
embeddings of a large, topical corpus. Queries are fresh draws from the same mixture. Reported: load time
(binary COPY), HNSW build time, table and index size on disk, query latency p50/p95 and recall@10 at
`hnsw.ef_search` 40 (pgvector's default), 100 (what seedrag sets for k <= 100) and 400, and exact
(sequential-scan) latency for comparison.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Any

import numpy as np

from eval.metrics import percentile
from eval.report import Report

DIM = 384
CLUSTERS = 2000
SPREAD = 0.6  # noise norm relative to the unit centre: nearest neighbours are mostly in the same cluster
QUERIES = 200
EXACT_QUERIES = 10
SEED = 7
BATCH = 50_000
SIZES = {"default": 1_000_000, "quick": 20_000}


def cluster_centres(rng: np.random.Generator) -> np.ndarray:
    """The CLUSTERS random unit centres of the mixture."""
    centres = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def vectors(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """n unit vectors from the cluster mixture."""
    which = rng.integers(0, len(centres), n)
    noise = rng.standard_normal((n, DIM), dtype=np.float32) * (SPREAD / np.sqrt(DIM))
    out = centres[which] + noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def run(settings: Any, quick: bool = False, full: bool = False, limit: int | None = None,
        embedder: Any = None) -> Report:
    """`embedder` is unused (no text here); the signature is the suites' common one."""
    import psycopg
    from pgvector.psycopg import register_vector

    from eval.scratch import scratch_index
    from index.stores import is_postgres

    n = limit or SIZES["quick" if quick else "default"]
    rng = np.random.default_rng(SEED)
    centres = cluster_centres(rng)
    queries = vectors(QUERIES, rng, centres)
    started = time.perf_counter()
    with ExitStack() as stack:
        if not is_postgres(settings.store):
            from eval.pglocal import local_postgres

            url = stack.enter_context(local_postgres(["maintenance_work_mem=6GB", "shared_buffers=2GB",
                                                      "max_parallel_maintenance_workers=1"]))
            settings = settings.replace(store=url)
        scratch = stack.enter_context(scratch_index(settings, "pgvector", "/nonexistent"))
        conn = stack.enter_context(psycopg.connect(scratch.location, autocommit=True))
        register_vector(conn)
        server: Any = conn.execute("SELECT version(), (SELECT extversion FROM pg_extension WHERE extname = 'vector'), "
                              "current_setting('maintenance_work_mem'), "
                              "current_setting('max_parallel_maintenance_workers')").fetchone()
        conn.execute(f"CREATE TABLE bench (id bigint PRIMARY KEY, embedding vector({DIM}) NOT NULL)")
        kept = np.zeros((n, DIM), dtype=np.float32)
        t = time.perf_counter()
        for at in range(0, n, BATCH):
            block = vectors(min(BATCH, n - at), rng, centres)
            kept[at:at + len(block)] = block
            with conn.cursor() as cur, cur.copy("COPY bench (id, embedding) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "vector"])
                for i, v in enumerate(block):
                    copy.write_row((at + i, v))
        load_s = time.perf_counter() - t
        conn.execute("VACUUM ANALYZE bench")
        t = time.perf_counter()
        conn.execute("CREATE INDEX bench_hnsw ON bench USING hnsw (embedding vector_ip_ops)")
        build_s = time.perf_counter() - t
        sizes: Any = conn.execute("SELECT pg_table_size('bench'), pg_relation_size('bench_hnsw')").fetchone()
        table_bytes, index_bytes = sizes

        truth = np.argsort(-(queries @ kept.T), axis=1)[:, :10]
        rows: list[dict[str, Any]] = []
        results: dict[int, tuple[float, float, float]] = {}
        for ef in (40, 100, 400):
            conn.execute(f"SET hnsw.ef_search = {ef}")
            seconds, recall = [], []
            for qi, q in enumerate(queries):
                t = time.perf_counter()
                got = [r[0] for r in conn.execute(
                    "SELECT id FROM bench ORDER BY embedding <#> %s LIMIT 10", (q,)).fetchall()]
                seconds.append(time.perf_counter() - t)
                recall.append(len(set(got) & set(truth[qi].tolist())) / 10)
            results[ef] = (percentile(seconds, 50), percentile(seconds, 95), float(np.mean(recall)))
            rows.append({"search": f"HNSW ef_search={ef}", "p50_ms": 1000 * results[ef][0],
                         "p95_ms": 1000 * results[ef][1], "recall@10": results[ef][2]})
        seconds, recall = [], []
        exact_sql = "SELECT id FROM bench ORDER BY (embedding <#> %s) + 0 LIMIT 10"  # an expression: no index
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + exact_sql, (queries[0],)).fetchall())
        for qi, q in enumerate(queries[:EXACT_QUERIES]):
            t = time.perf_counter()
            got = [r[0] for r in conn.execute(exact_sql, (q,)).fetchall()]
            seconds.append(time.perf_counter() - t)
            recall.append(len(set(got) & set(truth[qi].tolist())) / 10)
        rows.append({"search": "exact (sequential scan)", "p50_ms": 1000 * percentile(seconds, 50),
                     "p95_ms": 1000 * percentile(seconds, 95), "recall@10": float(np.mean(recall))})
    summary: dict[str, Any] = {
        "vectors": n, "dimension": DIM, "clusters": CLUSTERS, "queries": QUERIES,
        "server": server[0].split(" on ")[0], "pgvector": server[1],
        "maintenance_work_mem": server[2], "max_parallel_maintenance_workers": server[3],
        "load_seconds (binary COPY)": load_s, "hnsw_build_seconds (m=16, ef_construction=64)": build_s,
        "table_size_mb": table_bytes / 2**20, "hnsw_index_size_mb": index_bytes / 2**20,
    }
    for ef_search, (p50, p95, rec) in results.items():
        summary.update({f"ef_search={ef_search}.p50_ms": 1000 * p50, f"ef_search={ef_search}.p95_ms": 1000 * p95,
                        f"ef_search={ef_search}.recall@10": rec})
    summary["exact.p50_ms"] = rows[-1]["p50_ms"]
    summary["exact.recall@10 (checks the ground truth)"] = rows[-1]["recall@10"]
    summary["exact.plan uses the HNSW index"] = "bench_hnsw" in plan
    summary["total_seconds"] = time.perf_counter() - started
    return Report("pgvector", summary, rows, tables={"search": rows})
