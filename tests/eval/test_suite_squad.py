"""The SQuAD v1.1 and v2.0 suites, quick, on the real model and the public data (and through the CLI, with an LLM)."""

from __future__ import annotations

import json
import math

import pytest

from eval.datasets import data_dir

pytestmark = pytest.mark.skipif(not (data_dir() / "scifact-beir").exists(), reason="benchmark data not found")


@pytest.fixture(scope="module")
def squad2_report(quick_report):
    return quick_report("squad2")


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
