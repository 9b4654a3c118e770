"""The quick evaluation suites, end to end on the real model and the public data: reports are written and
the numbers are where a working pipeline puts them (a broken retriever, answerer or refusal fails here)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eval.datasets import data_dir

pytestmark = pytest.mark.skipif(not (data_dir() / "scifact-beir").exists(), reason="benchmark data not found")


@pytest.fixture(scope="module")
def settings():
    from rag.settings import Settings

    return Settings()


@pytest.fixture(scope="module")
def scifact_report(cached_embedder, settings, tmp_path_factory):
    from eval.suites import scifact

    report = scifact.run(settings, quick=True, embedder=cached_embedder)
    out = tmp_path_factory.mktemp("scifact")
    report.write(out)
    return report, out


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


@pytest.fixture(scope="module")
def squad2_report(cached_embedder, settings, tmp_path_factory):
    from eval.suites import squad2

    report = squad2.run(settings, quick=True, embedder=cached_embedder)
    out = tmp_path_factory.mktemp("squad2")
    report.write(out)
    return report, out


def test_squad2_quick_writes_report_and_curve(squad2_report):
    report, out = squad2_report
    assert (out / "report.md").exists()
    png = out / "coverage.png"
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "coverage.png" in (out / "report.md").read_text()
    curve = json.loads((out / "report.json").read_text())["tables"]["coverage"]
    assert len(curve) > 10
    # raising the threshold never answers more
    answered = [c["answered_rate_answerable"] for c in sorted(curve, key=lambda c: c["threshold"])]
    assert all(a >= b for a, b in zip(answered, answered[1:], strict=False))


def test_squad2_quick_refusal_and_answers(squad2_report):
    from rag.evidence import shipped

    s = squad2_report[0].summary
    assert (s["answerable"], s["unanswerable"]) == (30, 30)
    assert s["threshold (product default)"] == pytest.approx(shipped().threshold)  # the reranker is on by default
    # a working answerer finds the gold answer's sentence for many answerable questions ...
    assert s["answerable.contains_gold_if_never_refused"] > 0.4
    assert s["answerable.accuracy (answered and contains gold)"] <= s["answerable.answered_rate"]
    # ... and the threshold separates something: neither answers everything nor refuses everything
    assert 0 < s["coverage (answered, all)"] < 1
    assert 0 <= s["unanswerable.refused_rate"] <= 1
    assert 0 <= s["squad_v2.exact"] <= s["squad_v2.f1"] <= 100
    # the official NoAns exact is exactly the refused rate on unanswerable questions
    assert s["squad_v2.NoAns_exact"] == pytest.approx(100 * s["unanswerable.refused_rate"])
    assert math.isfinite(s["ask_p95_ms"]) and s["ask_p50_ms"] > 0


def test_squad2_sample_is_balanced_and_deterministic():
    from eval.datasets import load_squad, squad_questions
    from eval.suites.squad2 import sample

    items = squad_questions(load_squad("v2.0"))
    a, b = sample(items, 500), sample(items, 500)
    assert [q.id for q in a] == [q.id for q in b]
    assert sum(q.answerable for q in a) == 500 and sum(not q.answerable for q in a) == 500
    assert len(sample(items, None)) == 11873


def test_eval_seed_quick_through_the_cli(tmp_path, capsys, embedding_cache):
    from ui.cli import main

    assert main(["eval", "seed", "--quick", "--out", str(tmp_path), "--embedding-cache", str(embedding_cache)]) == 0
    out, err = capsys.readouterr()
    assert "asking" in err and "answer_accuracy" in out  # the progress bar on stderr, the summary on stdout
    data = json.loads((tmp_path / "seed" / "report.json").read_text())
    s = data["summary"]
    assert (tmp_path / "seed" / "report.md").exists()
    assert s["questions"] > 5
    assert s["answer_accuracy (answerable, gold answer in answer)"] > 0.5
    assert s["refusal_accuracy (all)"] > 0.5
    assert 0 < s["ask_p50_ms"] <= s["ask_p95_ms"]


def test_eval_squad2_through_the_cli_with_limit(tmp_path, embedding_cache):
    from ui.cli import main

    assert main(["eval", "squad2", "--quick", "--limit", "4", "--out", str(tmp_path),
                 "--embedding-cache", str(embedding_cache)]) == 0
    data = json.loads((tmp_path / "squad2" / "report.json").read_text())
    assert (data["summary"]["answerable"], data["summary"]["unanswerable"]) == (2, 2)
    assert len(data["rows"]) == 4
    assert (tmp_path / "squad2" / "coverage.png").exists()


def test_eval_squad2_and_squad_answer_with_the_llm_they_are_given(tmp_path, monkeypatch, embedding_cache):
    """--llm reaches the answerer: a random-weight model's gibberish is rejected by the checks, so with
    llm_fallback=refuse every question is refused (the extractive answerer would answer most of them)."""
    pytest.importorskip("llama_cpp")
    from rag.generate.testing import write_random_gguf
    from ui.cli import main

    model = write_random_gguf(tmp_path / "random.gguf", context_length=2048)
    monkeypatch.setenv("SEEDRAG_LLM_FALLBACK", "refuse")
    monkeypatch.setenv("SEEDRAG_LLM_MAX_TOKENS", "16")
    monkeypatch.setenv("SEEDRAG_REFUSAL_THRESHOLD", "0")  # every question passes the gate and reaches the LLM
    llm = ["--llm", "llama-cpp", "--model", str(model), "--embedding-cache", str(embedding_cache)]
    assert main(["eval", "squad2", "--quick", "--limit", "4", "--out", str(tmp_path), *llm]) == 0
    s = json.loads((tmp_path / "squad2" / "report.json").read_text())["summary"]
    assert s["mode"] == "llm:llama-cpp"
    assert s["llm answers rejected: answerable"] == 1.0 and s["llm answers rejected: unanswerable"] == 1.0
    assert s["answerable.answered_rate"] == 0.0 and s["unanswerable.refused_rate"] == 1.0
    assert s["llm_fallback=refuse: answered / refused"] == "0.000 / 1.000"
    # under the default policy the rejected answers would have been replaced by the extractive ones
    assert float(s["llm_fallback=extractive: answered / refused"].split(" / ")[0]) > 0
    assert main(["eval", "squad", "--quick", "--limit", "3", "--out", str(tmp_path), *llm]) == 0
    s = json.loads((tmp_path / "squad" / "report.json").read_text())["summary"]
    assert s["mode"] == "llm:llama-cpp" and s["answered_rate"] == 0.0
    assert s["llm_answers_rejected (fallback)"] == 1.0 and s["recall@10"] > 0  # retrieval is unchanged


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


def test_squad2_test_questions_are_held_out_from_calibration():
    from eval.datasets import load_squad, squad_questions
    from eval.suites import calibrate, squad2

    calibration = {q.id for q in calibrate.squad_v2_sample(calibrate.SAMPLE["default"])}
    assert len(calibration) == 600
    pool = squad2.held_out(squad_questions(load_squad("v2.0")))
    test = {q.id for q in squad2.sample(pool, squad2.SAMPLE["default"])}
    assert len(test) == 1000 and not test & calibration


def test_squad_quick_retrieval_answers_and_citations(cached_embedder, settings, tmp_path):
    from eval.suites import squad

    report = squad.run(settings, quick=True, embedder=cached_embedder)
    report.write(tmp_path)
    s = report.summary
    assert s["questions"] == 40
    # over the paragraphs of three articles a working retriever nearly always ranks the gold one in the top 5
    assert s["recall@5"] >= 0.85 and s["mrr@10"] >= 0.6
    assert s["answer_contains_gold"] > 0.4
    assert s["citation_precision (answered)"] > 0.5
    assert 0 < s["f1 (sentence answers)"] <= 100
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["questions"] == 40


def test_calibrate_quick_picks_a_threshold_without_writing(cached_embedder, settings, tmp_path):
    from eval.suites import calibrate

    before = calibrate.CALIBRATION_FILE.read_bytes()
    report = calibrate.run(settings, quick=True, embedder=cached_embedder)
    report.write(tmp_path)
    s = report.summary
    assert 0 < s["threshold"] < 1
    # the chosen threshold separates both sets better than chance
    assert s["seed.answered_rate_answerable"] + s["seed.refused_rate_unanswerable"] > 1.2
    assert s["squad2.answered_rate_answerable"] + s["squad2.refused_rate_unanswerable"] > 1.0
    assert s["written"] == "no" and calibrate.CALIBRATION_FILE.read_bytes() == before
    assert (tmp_path / calibrate.PLOT).exists()
    for name in ("seed", "squad2"):  # like every suite: latency (and build throughput where it embedded)
        assert 0 < s[f"{name} ask_p50_ms"] <= s[f"{name} ask_p95_ms"]


def test_eval_docs_quick_reads_real_installed_files(tmp_path, capsys, embedding_cache):
    from eval.suites.docs import corpus
    from ui.cli import main

    quick = [f for f in corpus() if f.quick]
    if not any(Path(f.path).exists() for f in quick):
        pytest.skip("none of the real-documents benchmark's quick files is installed on this machine")
    assert main(["eval", "docs", "--quick", "--out", str(tmp_path), "--embedding-cache", str(embedding_cache)]) == 0
    data = json.loads((tmp_path / "docs" / "report.json").read_text())
    s, rows = data["summary"], data["rows"]
    assert {r["split"] for r in rows} == {"dev", "test"} and len(rows) >= 10
    shown = [r for r in rows if not r["refused"]]
    assert shown and all(r["whole_sentence"] for r in shown)  # every answer a whole sentence...
    assert not any(r["structural"] for r in shown)  # ...and never a heading, title or code line
    assert s["dev: heading/title/code answers"] == 0
    answerable = [r for r in rows if r["answerable"]]
    assert sum(r["correct"] for r in answerable) / len(answerable) >= 0.4
    unanswerable = [r for r in rows if not r["answerable"]]
    assert sum(r["refused"] for r in unanswerable) / len(unanswerable) >= 0.5
