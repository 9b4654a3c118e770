"""The SciFact retrieval suite (FAISS and PostgreSQL), the retrieval-lever harness and the pgvector benchmark,
quick, on the real model and the public data."""

from __future__ import annotations

import json

import pytest

from eval.datasets import data_dir

pytestmark = pytest.mark.skipif(not (data_dir() / "scifact-beir").exists(), reason="benchmark data not found")


@pytest.fixture(scope="module")
def scifact_report(quick_report):
    return quick_report("scifact")


def test_scifact_quick_writes_its_report(scifact_report):
    report, out = scifact_report
    assert (out / "report.md").exists()
    data = json.loads((out / "report.json").read_text())
    assert data["suite"] == "scifact"
    assert [r["method"] for r in data["tables"]["retrieval"]] == ["dense", "bm25", "hybrid"]
    assert len(data["rows"]) == 30


def test_scifact_quick_retrieval_quality(scifact_report):
    s = scifact_report[0].summary
    assert s["queries"] == 30
    assert 200 <= s["documents"] <= 260
    assert s["chunks"] >= s["documents"]
    # on ~240 abstracts a working pipeline finds most relevant ones; a broken one scores near 0
    assert s["dense.ndcg@10"] > 0.6
    assert s["bm25.ndcg@10"] > 0.6
    assert s["hybrid.ndcg@10"] > 0.65
    assert s["hybrid.ndcg@10"] >= min(s["dense.ndcg@10"], s["bm25.ndcg@10"])
    for method in ("dense", "bm25", "hybrid"):
        assert s[f"{method}.recall@100"] >= s[f"{method}.recall@10"]
        assert s[f"{method}.recall@100"] > 0.8
        assert 0 < s[f"{method}.mrr@10"] <= 1
    assert s["build_chunks_per_s (embedding)"] > 0
    assert 0 < s["retrieve_p50_ms"] <= s["retrieve_p95_ms"] < 5000
    assert 0 < s["ask_p50_ms"] <= s["ask_p95_ms"]


def test_scifact_quick_subset_is_deterministic():
    from eval.suites.scifact import select

    a, b = select(quick=True), select(quick=True)
    assert list(a[0]) == list(b[0]) and list(a[1]) == list(b[1])
    corpus, queries, qrels = a
    assert len(queries) == 30
    assert all(d in corpus for q in queries for d in qrels[q])  # every judged abstract is indexed


def test_scifact_quick_on_postgresql_scores_as_on_faiss(scifact_report, cached_embedder, settings, postgres_db_url):
    """`seedrag eval scifact --store postgresql://...`: the suite builds its index in the database (a schema of
    its own, dropped afterwards, the database's own tables untouched) and scores within 0.005 of FAISS."""
    import psycopg

    from eval.suites import scifact

    with psycopg.connect(postgres_db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE seedrag_chunks (marker text)")  # stands for the user's real index in public
    misses = cached_embedder.misses
    report = scifact.run(settings.replace(store=postgres_db_url), quick=True, embedder=cached_embedder)
    pg, faiss = report.summary, scifact_report[0].summary
    assert cached_embedder.misses == misses  # every chunk's vector came from the FAISS run: the same chunks
    assert (pg["store"], faiss["store"]) == ("postgresql", "faiss")
    assert pg["chunks"] == faiss["chunks"]
    for method in ("dense", "bm25", "hybrid"):
        assert abs(pg[f"{method}.ndcg@10"] - faiss[f"{method}.ndcg@10"]) <= 0.005, method
        assert pg[f"{method}.ndcg@10"] > 0.6
    with psycopg.connect(postgres_db_url, autocommit=True) as conn:
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'seedrag_eval%'")}
        assert schemas == set()
        assert conn.execute("SELECT count(*) FROM public.seedrag_chunks").fetchone()[0] == 0
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'seedrag_chunks'")]
        assert columns == ["marker"]


def test_pgvector_benchmark_small(settings, postgres_db_url):
    """The scale benchmark's harness on 3,000 vectors in the test database (the 1M run is `seedrag eval pgvector`)."""
    import psycopg

    from eval.suites import pgvector

    report = pgvector.run(settings.replace(store=postgres_db_url), limit=3000)
    s = report.summary
    assert s["vectors"] == 3000
    assert s["hnsw_index_size_mb"] > 3000 * 384 * 4 / 2**20  # the graph holds the vectors and their links
    assert s["ef_search=100.recall@10"] >= s["ef_search=40.recall@10"] - 0.01
    assert s["ef_search=100.recall@10"] > 0.9
    assert 0 < s["ef_search=40.p50_ms"] <= s["ef_search=40.p95_ms"]
    assert s["exact.recall@10 (checks the ground truth)"] == 1.0 and not s["exact.plan uses the HNSW index"]
    with psycopg.connect(postgres_db_url) as conn:  # the scratch schema is gone
        assert conn.execute("SELECT to_regclass('seedrag_eval_pgvector.bench')").fetchone()[0] is None


def test_levers_baseline_reproduces_the_scifact_suite(scifact_report, cached_embedder):
    """The lever harness ranks like the product: its dense-only and BM25-only rows equal the suite's store-level
    numbers on the same quick subset, its baseline the product's hybrid; a lever changes the number."""
    from dataclasses import replace

    from eval.levers import BASE, run_levers, scifact_corpus

    chosen = [BASE, replace(BASE, name="dense", fusion="dense"), replace(BASE, name="bm25", fusion="bm25"),
              replace(BASE, name="rrf", fusion="rrf")]
    rows = {r["variant"]: r for r in run_levers(scifact_corpus(quick=True), cached_embedder, chosen, lambda m: None)}
    s = scifact_report[0].summary
    assert rows["dense"]["ndcg@10"] == pytest.approx(s["dense.ndcg@10"], abs=1e-4)
    assert rows["bm25"]["ndcg@10"] == pytest.approx(s["bm25.ndcg@10"], abs=1e-4)
    assert rows[BASE.name]["ndcg@10"] == pytest.approx(s["hybrid.ndcg@10"], abs=0.005)
    assert rows["rrf"]["ndcg@10"] != rows[BASE.name]["ndcg@10"]
