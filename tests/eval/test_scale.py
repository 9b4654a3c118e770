"""`seedrag eval scale` on tiny sizes: real FAISS indexes and the project's BM25, every field a measured number."""

from __future__ import annotations

import json
import math

import pytest

from eval.suites import SUITES, scale
from index.stores import faiss as faiss_store


@pytest.fixture
def small(monkeypatch):
    """Sizes that keep the suite to a few seconds: the store's threshold between the two sizes measured."""
    monkeypatch.setattr(faiss_store, "FLAT_MAX", 1000)
    monkeypatch.setattr(scale, "VOCABULARY", 5000)
    monkeypatch.setattr(scale, "EXTEND", 100)


def test_scale_suite_measures_both_indexes_and_bm25_at_each_size(small, tmp_path):
    from rag.settings import Settings

    assert SUITES["scale"] == "eval.suites.scale"
    report = scale.run(Settings(), sizes=(400, 1500))
    rows = report.tables["vector index"]
    assert [(r["chunks"], r["index"], r["chosen"]) for r in rows] == [
        (400, "flat", True), (400, "hnsw", False), (1500, "flat", False), (1500, "hnsw", True)]
    for r in rows:
        for key in ("build_s", "load_s", "p50_ms", "p95_ms", "disk_bytes/chunk", "ram_bytes/chunk"):
            assert isinstance(r[key], float) and math.isfinite(r[key]) and r[key] >= 0, (key, r)
        assert 0 < r["p50_ms"] <= r["p95_ms"]
        assert 0.0 <= r["recall@10"] <= 1.0
        assert r["disk_bytes/chunk"] >= 384 * 4  # the float32 vectors themselves
    flat = [r for r in rows if r["index"] == "flat"]
    hnsw = [r for r in rows if r["index"] == "hnsw"]
    assert all(r["recall@10"] == 1.0 for r in flat)  # exact search is the ground truth
    assert all(r["recall@10"] >= 0.9 for r in hnsw)
    assert all(h["disk_bytes/chunk"] > f["disk_bytes/chunk"] for f, h in zip(flat, hnsw, strict=True))  # links
    assert all(r["extend_s (+100)"] > 0 for r in hnsw) and all(r["extend_s (+100)"] is None for r in flat)
    sweep = report.tables["HNSW efSearch"]
    assert {r["efSearch"] for r in sweep} == set(scale.EF_SWEEP)
    assert all(0.0 <= r["recall@10"] <= 1.0 for r in sweep)
    narrow, wide = (min(r["recall@10"] for r in sweep if r["efSearch"] == ef) for ef in (16, 512))
    assert narrow < 0.97 < wide  # a beam of 16 misses neighbours that 512 finds: recall is measured, not assumed
    assert sum(r["store's"] for r in sweep) == 2  # the store's efSearch is among those swept, once a size
    bm25 = report.tables["BM25"]
    assert [r["chunks"] for r in bm25] == [400, 1500]
    for r in bm25:
        assert r["build_s"] > 0 and 0 < r["query_p50_ms"] <= r["query_p95_ms"] and r["build_peak_mb"] >= 0
    assert report.summary["1,500 hnsw.recall@10"] == hnsw[1]["recall@10"]

    report.write(tmp_path)
    assert (tmp_path / scale.PLOT).stat().st_size > 10_000
    assert f"![{scale.PLOT}]({scale.PLOT})" in (tmp_path / "report.md").read_text()
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["tables"]["vector index"][0]["p50_ms"] == rows[0]["p50_ms"]


def test_bm25_is_skipped_with_the_reason_when_it_would_not_fit(small, monkeypatch):
    monkeypatch.setattr(scale, "_available", lambda: 2**30)
    row = scale._bm25_at(2000, {"chunks": 1000, "build_peak_mb": 1024.0})
    assert row["build_s"] is None and row["query_p50_ms"] is None
    assert row["note"] == "skipped: the build would take ~2.0 GB (from 1,000), 1.0 GB available"
    assert scale._bm25_at(2000, {"chunks": 1000, "build_peak_mb": 100.0})["build_s"] > 0


def test_sizes_ladder():
    assert scale.ladder(None, quick=False) == (10_000, 100_000, 1_000_000)
    assert scale.ladder(None, quick=True) == (10_000, 20_000)
    assert scale.ladder(50_000, quick=False) == (10_000, 50_000)
