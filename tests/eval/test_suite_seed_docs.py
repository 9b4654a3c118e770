"""The seed-article and real-documents suites, quick, through the CLI.

The quick evaluation suites, end to end: reports are written and the numbers are where a working pipeline
puts them (a broken retriever, answerer or refusal fails here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.datasets import data_dir

pytestmark = pytest.mark.skipif(not (data_dir() / "scifact-beir").exists(), reason="benchmark data not found")


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
