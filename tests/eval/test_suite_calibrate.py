"""The calibration suite, quick: it picks a threshold and writes nothing.

The quick evaluation suites, end to end: reports are written and the numbers are where a working pipeline
puts them (a broken retriever, answerer or refusal fails here)."""

from __future__ import annotations

import pytest

from eval.datasets import data_dir

pytestmark = pytest.mark.skipif(not (data_dir() / "scifact-beir").exists(), reason="benchmark data not found")


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
