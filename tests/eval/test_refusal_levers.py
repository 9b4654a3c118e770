"""The refusal-lever harness: its logistic regression, its features (the engine's own), and a quick run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval.datasets import data_dir
from eval.refusal_levers import FEATURES, LEVERS, Lever, evaluate, features, fit_logistic
from eval.suites.calibrate import choose_threshold


def test_fit_logistic_matches_scikit_learn() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 3)) * [1.0, 5.0, 0.1] + [0.0, 2.0, -1.0]
    y = (x @ [1.0, -0.2, 8.0] + rng.normal(size=300) > -8.4).astype(float)
    ours = fit_logistic(x, y)
    standardised = (x - x.mean(axis=0)) / x.std(axis=0)
    theirs = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(standardised, y)
    assert ours.coef == pytest.approx(theirs.coef_[0], abs=1e-4)
    assert ours.intercept == pytest.approx(theirs.intercept_[0], abs=1e-4)
    assert ours.score(x) == pytest.approx(theirs.predict_proba(standardised)[:, 1], abs=1e-5)


def test_a_single_feature_lever_is_oriented_and_thresholded_on_the_calibration_sample() -> None:
    # the threshold is picked as the product's calibration picks it: the centre of the best plateau
    assert choose_threshold({"c": ([0.9, 0.8, 0.2, 0.1], [True, True, False, False])})[0] == 0.5
    # a feature that is LOW for answerable questions is turned round (score -f), not reported as AUC 0;
    # its threshold comes from the calibration sample (-0.5: the middle of -0.8 .. -0.2, where it separates
    # perfectly)
    cal = [{"answerable": a, "f": v} for a, v in ((True, 0.1), (True, 0.2), (False, 0.8), (False, 0.9))]
    test = [{"answerable": a, "f": v} for a, v in ((True, 0.15), (False, 0.7), (True, 0.3), (False, 0.25))]
    row = evaluate(cal, test, Lever("f", ("f",), False, "no"))
    assert row["AUC"] == 0.75  # pairs: (.15 vs .7) 1, (.15 vs .25) 1, (.3 vs .7) 1, (.3 vs .25) 0
    assert (row["answered (calibration-BA threshold)"], row["refused (calibration-BA threshold)"]) == (1.0, 0.5)


def test_features_are_what_ask_decides_on(seed_rag) -> None:
    for question in ("What is the range of the ATACMS missile?", "What is the capital of Peru?"):
        f = features(seed_rag, question)
        answer = seed_rag.ask(question)
        assert f is not None and set(f) == set(FEATURES) and f["confidence"] == pytest.approx(answer.support)
        assert f["gap"] == pytest.approx(f["support"] - f["second"])
        assert 0.0 <= f["passage_coverage"] <= 1.0 and 0 <= f["passage_rank"] < seed_rag.settings.k
    assert features(seed_rag, "Why didn't the Pentagon say?")["negation"] == 1.0  # type: ignore[index]


@pytest.mark.skipif(not (data_dir() / "squad-v2.0-dev").exists(), reason="benchmark data not found")
def test_quick_run_scores_every_lever_on_held_out_questions(cached_embedder, tmp_path) -> None:
    from eval.refusal_levers import run
    from rag.settings import Settings

    report = run(Settings(), quick=True, embedder=cached_embedder)
    table = report.tables["levers"]
    assert [r["lever"] for r in table] == [lever.name for lever in LEVERS]
    for r in table:
        assert 0.0 <= r["AUC"] <= 1.0 and not math.isnan(r["refused @ 90% answered"])
    cal = {r["id"] for r in report.rows if r["split"] == "calibration"}
    test = {r["id"] for r in report.rows if r["split"] == "test"}
    assert len(cal) >= 70 and len(test) >= 50 and not cal & test
    from rag.evidence import shipped

    assert report.summary["product threshold"] == pytest.approx(shipped().threshold)
    fitted = next(i for i, lever in enumerate(LEVERS) if lever.fitted)
    assert set(table[fitted]["coefficients"]) == set(LEVERS[fitted].features)
    assert all(set(lever.features) <= set(FEATURES) for lever in LEVERS)
    report.write(tmp_path)
    assert "| logistic regression on evidence features |" in (tmp_path / "report.md").read_text()
