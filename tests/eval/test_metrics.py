"""Metrics: hand-computed cases, properties, and the official numbers on the public reference files."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from eval.datasets import data_dir, load_beir, load_squad
from eval.metrics import (
    Score,
    answer_contains,
    citation_precision,
    coverage_accuracy_curve,
    exact_match,
    exact_match_v2,
    f1,
    f1_v2,
    mean_retrieval,
    mean_score,
    mrr_at_k,
    ndcg_at_k,
    normalize_answer,
    percentile,
    recall_at_k,
    refusal_accuracy,
    refused_at_answered,
    roc_auc,
    squad_v1_scores,
    squad_v2_scores,
    token_f1,
)

# ---------------------------------------------------------------------------------------------- SQuAD


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The  Cat, sat!", "cat sat"),
        ("An apple a day", "apple day"),
        ("theater Anthem", "theater anthem"),  # articles only as whole words
        ("a-the", "athe"),  # punctuation goes first: "athe" is one word, not an article
        ("1–2 \u2019s", "1–2 \u2019s"),  # only ASCII punctuation is removed, as in the official script
        ("  Denver\tBroncos\n", "denver broncos"),
    ],
)
def test_normalize_answer(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


def test_token_f1_hand_computed() -> None:
    # "cat sat" vs "cat sat on": 2 common, P = 2/2, R = 2/3, F1 = 0.8
    assert token_f1("the cat sat", "cat sat on") == pytest.approx(0.8)
    # multiset overlap: {cat:2, dog:1} & {cat:1, dog:2} = 2 tokens -> P = R = 2/3
    assert token_f1("cat cat dog", "cat dog dog") == pytest.approx(2 / 3)
    assert token_f1("Paris", "London") == 0.0
    assert token_f1("", "") == 0.0  # v1.1 quirk: nothing in common -> 0


def test_exact_match_and_f1_take_max_over_golds() -> None:
    assert exact_match("The Denver Broncos!", ["Carolina Panthers", "denver broncos"]) == 1.0
    assert exact_match("Denver", ["Denver Broncos"]) == 0.0
    assert exact_match("anything", []) == 0.0
    # vs "Broncos": P = 1/2, R = 1 -> 2/3; vs "Carolina": 0
    assert f1("Denver Broncos", ["Carolina", "Broncos"]) == pytest.approx(2 / 3)
    assert f1("Denver Broncos", ["Carolina", "Broncos", "the Denver Broncos"]) == 1.0
    assert f1("x", []) == 0.0


def _toy_dataset(qas: list[dict]) -> dict:
    return {"version": "toy", "data": [{"title": "T", "paragraphs": [{"context": "c", "qas": qas}]}]}


def test_squad_v1_scores_counts_missing_predictions_as_zero() -> None:
    ds = _toy_dataset([
        {"id": "q1", "question": "?", "answers": [{"text": "Paris"}]},
        {"id": "q2", "question": "?", "answers": [{"text": "cat sat on"}, {"text": "dog"}]},
        {"id": "q3", "question": "?", "answers": [{"text": "London"}]},
    ])
    scores = squad_v1_scores(ds, {"q1": "paris.", "q2": "the cat sat", "other": "x"})
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 0.8) / 3)
    assert squad_v1_scores(ds["data"], {}) == {"exact_match": 0.0, "f1": 0.0}  # also takes the data list


def test_v2_single_item_no_answer_rules() -> None:
    assert exact_match_v2("", []) == 1.0
    assert exact_match_v2("The.", []) == 1.0  # normalises to empty = abstains
    assert exact_match_v2("Paris", []) == 0.0
    assert exact_match_v2("", ["the"]) == 1.0  # golds that normalise to "" are dropped -> unanswerable
    assert f1_v2("", []) == 1.0
    assert f1_v2("Paris", []) == 0.0
    assert f1_v2("", ["Paris"]) == 0.0
    assert f1_v2("the cat sat", ["cat sat on"]) == pytest.approx(0.8)


def test_squad_v2_scores_breakdown() -> None:
    ds = _toy_dataset([
        {"id": "a1", "question": "?", "answers": [{"text": "Paris"}], "is_impossible": False},
        {"id": "a2", "question": "?", "answers": [{"text": "cat sat on"}], "is_impossible": False},
        {"id": "n1", "question": "?", "answers": [], "is_impossible": True},
        {"id": "n2", "question": "?", "answers": [], "is_impossible": True},
    ])
    s = squad_v2_scores(ds, {"a1": "paris", "a2": "the cat sat", "n1": "", "n2": "London"})
    assert s["exact"] == pytest.approx(50.0)
    assert s["f1"] == pytest.approx(100 * (1 + 0.8 + 1 + 0) / 4)
    assert (s["HasAns_exact"], s["HasAns_f1"], s["HasAns_total"]) == pytest.approx((50.0, 90.0, 2))
    assert (s["NoAns_exact"], s["NoAns_f1"], s["NoAns_total"]) == pytest.approx((50.0, 50.0, 2))
    assert s["total"] == 4
    only_answerable = squad_v2_scores(_toy_dataset(ds["data"][0]["paragraphs"][0]["qas"][:1]), {})
    assert only_answerable["exact"] == 0.0 and "NoAns_exact" not in only_answerable


# ------------------------------------------------------------------------------------------ retrieval

REL = {"a": 2, "b": 1, "e": 1, "z": 0}
L3 = math.log2(3)


def test_ndcg_hand_computed() -> None:
    # ranks 1..3 = x (0), a (2), b (1); ideal gains 2, 1, 1 from ALL judged docs (e is never retrieved)
    expected = (2 / L3 + 1 / 2) / (2 + 1 / L3 + 1 / 2)
    assert expected == pytest.approx(0.562727, abs=1e-6)
    assert ndcg_at_k(["x", "a", "b"], REL, 3) == pytest.approx(expected)
    assert ndcg_at_k(["x", "a", "b"], REL, 2) == pytest.approx((2 / L3) / (2 + 1 / L3))
    assert ndcg_at_k(["x", "a", "b"], REL, 1) == 0.0
    assert ndcg_at_k(["a", "b", "e", "x"], REL, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "a", "b"], REL, 2) == pytest.approx(1.0)  # duplicates count once
    assert ndcg_at_k(["z", "y"], {"z": 0}, 5) == 0.0  # no positive judgement
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], REL, 0)


def test_mrr_and_recall_hand_computed() -> None:
    assert mrr_at_k(["x", "z", "b"], REL, 3) == pytest.approx(1 / 3)  # z is judged 0: not relevant
    assert mrr_at_k(["x", "z", "b"], REL, 2) == 0.0
    assert mrr_at_k(["e"], REL, 1) == 1.0
    assert recall_at_k(["x", "a", "b"], REL, 3) == pytest.approx(2 / 3)
    assert recall_at_k(["x", "a", "b"], REL, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["z"], {"z": 0}, 1) == 0.0


def test_mean_retrieval_over_qrels_queries() -> None:
    qrels = {"q2": {"d1": 1}, "q1": REL}
    runs = {"q1": ["x", "a", "b"], "unjudged": ["d1"]}  # q2 has no run: scores 0
    out = mean_retrieval(runs, qrels, 3)
    assert set(out) == {"ndcg", "mrr", "recall"}
    assert out["ndcg"].per_item == pytest.approx((0.562727, 0.0), abs=1e-6)  # sorted qids: q1, q2
    assert out["mrr"] == Score(mean=0.25, per_item=(0.5, 0.0))
    assert out["recall"].mean == pytest.approx(1 / 3)
    assert mean_score([]) == Score(0.0, ())


@given(
    ranking=st.lists(st.sampled_from("abcdefgh"), max_size=10),
    rels=st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 3)),
    k=st.integers(1, 10),
)
def test_retrieval_metrics_bounded_and_monotone(ranking: list[str], rels: dict[str, int], k: int) -> None:
    for fn in (ndcg_at_k, mrr_at_k, recall_at_k):
        assert 0.0 <= fn(ranking, rels, k) <= 1.0 + 1e-12
    assert recall_at_k(ranking, rels, k) <= recall_at_k(ranking, rels, k + 1)
    assert mrr_at_k(ranking, rels, k) <= mrr_at_k(ranking, rels, k + 1)


# --------------------------------------------------------------------------- answers, citations, refusal


def test_answer_contains() -> None:
    assert answer_contains("It was the Denver Broncos, in 2016.", ["Carolina", "denver broncos"]) == 1.0
    assert answer_contains("concatenate", ["cat"]) == 0.0  # whole tokens only
    assert answer_contains("The year 19955", ["1995"]) == 0.0
    assert answer_contains("anything at all", ["the", ""]) == 0.0  # empty golds never match
    assert answer_contains("Paris", []) == 0.0


def test_citation_precision() -> None:
    quotes = ['Culturally, Melbourne is the "sporting capital of Australia".', "The MCG is the largest one."]
    assert citation_precision(quotes, ["melbourne"]) == 0.5
    assert citation_precision(quotes, ["sporting capital of Australia", "largest one"]) == 1.0
    assert citation_precision([], ["melbourne"]) == 0.0


def test_refusal_accuracy_hand_computed() -> None:
    out = refusal_accuracy([False, False, True, True, False], [True, True, True, False, False])
    assert out["answered_rate_answerable"] == pytest.approx(2 / 3)
    assert out["refused_rate_unanswerable"] == pytest.approx(1 / 2)
    assert out["accuracy"] == pytest.approx(3 / 5)
    assert (out["n_answerable"], out["n_unanswerable"]) == (3, 2)
    assert math.isnan(refusal_accuracy([False], [True])["refused_rate_unanswerable"])
    with pytest.raises(ValueError):
        refusal_accuracy([True], [True, False])


def test_coverage_accuracy_curve() -> None:
    curve = coverage_accuracy_curve([0.9, 0.4, 0.2, 0.6], [True, True, False, False], [0.0, 0.4, 0.5, 1.0])
    got = [(r["threshold"], r["answered_rate_answerable"], r["refused_rate_unanswerable"]) for r in curve]
    assert got == [(0.0, 1.0, 0.0), (0.4, 1.0, 0.5), (0.5, 0.5, 0.5), (1.0, 0.0, 1.0)]  # score == t answers
    assert curve[2]["accuracy"] == 0.5


def test_roc_auc_hand_computed_with_ties() -> None:
    assert roc_auc([0.9, 0.8, 0.3, 0.5], [True, True, False, False]) == 1.0
    assert roc_auc([0.1, 0.2, 0.3, 0.5], [True, True, False, False]) == 0.0
    # pairs (answerable, unanswerable): (.5,.5) half, (.5,.1) 1, (.2,.5) 0, (.2,.1) 1 -> 2.5 / 4
    assert roc_auc([0.5, 0.2, 0.5, 0.1], [True, True, False, False]) == 0.625
    assert math.isnan(roc_auc([0.4], [True]))
    with pytest.raises(ValueError):
        roc_auc([0.1], [True, False])


@hypothesis_settings(deadline=None)  # the first example imports scikit-learn
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=40))
def test_roc_auc_matches_scikit_learn(pairs: list[tuple[int, bool]]) -> None:
    from sklearn.metrics import roc_auc_score

    scores, answerable = [float(s) for s, _ in pairs], [a for _, a in pairs]
    if all(answerable) or not any(answerable):
        assert math.isnan(roc_auc(scores, answerable))
    else:
        assert roc_auc(scores, answerable) == pytest.approx(roc_auc_score(answerable, scores))


def test_refused_at_answered_hand_computed() -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.75, 0.65, 0.1, 0.2, 0.3]
    answerable = [True] * 5 + [False] * 5
    assert refused_at_answered(scores, answerable, 0.8) == 0.6   # keep 4 of 5: threshold 0.6
    assert refused_at_answered(scores, answerable, 1.0) == 0.6   # threshold 0.5
    assert refused_at_answered(scores, answerable, 0.6) == 0.8   # threshold 0.7: 0.65 refused too
    assert math.isnan(refused_at_answered([0.3], [True], 0.9))
    with pytest.raises(ValueError):
        refused_at_answered(scores, answerable, 0.0)


def test_percentile() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)  # rank 0.95 * 3 = 2.85 -> 3 + 0.85
    assert (percentile([7.0], 95), percentile([1, 9], 0), percentile([1, 9], 100)) == (7.0, 1.0, 9.0)
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# ------------------------------------------------------------------- official numbers on real files

_SQUAD1 = data_dir() / "squad-v1.1-dev"
_SQUAD2 = data_dir() / "squad-v2.0-dev"
needs_data = pytest.mark.skipif(
    not (_SQUAD1.exists() and _SQUAD2.exists()), reason=f"no benchmark data in {data_dir()}"
)


def _predictions(path) -> dict[str, str]:
    with open(path, encoding="utf-8") as fh:
        preds = json.load(fh)
    assert isinstance(preds, dict) and all(isinstance(v, str) for v in preds.values())  # {qid: answer}
    return preds


@needs_data
@pytest.mark.parametrize(
    ("name", "em", "f1_"),
    [("bert-ensemble-google", 86.21, 92.20), ("logistic-regression-baseline-stanford", 40.14, 50.98)],
)
def test_squad_v1_reference_predictions(name: str, em: float, f1_: float) -> None:
    preds = _predictions(_SQUAD1 / "reference-predictions" / f"{name}.json")
    scores = squad_v1_scores(load_squad("v1.1"), preds)
    assert (round(scores["exact_match"], 2), round(scores["f1"], 2)) == (em, f1_)


@needs_data
def test_squad_v2_reference_predictions() -> None:
    preds = _predictions(_SQUAD2 / "reference-predictions" / "bert-single-google.json")
    scores = squad_v2_scores(load_squad("v2.0"), preds)
    assert (round(scores["exact"], 2), round(scores["f1"], 2)) == (78.74, 81.78)
    assert (scores["total"], scores["HasAns_total"], scores["NoAns_total"]) == (11873, 5928, 5945)
    # on unanswerable questions F1 and EM coincide (the only gold is "")
    assert scores["NoAns_f1"] == pytest.approx(scores["NoAns_exact"])


@needs_data
def test_ndcg_matches_published_bm25_scifact() -> None:
    """README: bm25s 0.3.16 lucene BM25 on SciFact gives nDCG@10 0.6762 and R@100 0.9127 (BEIR scoring)."""
    bm25s = pytest.importorskip("bm25s")
    stemmer_mod = pytest.importorskip("Stemmer")
    if not (data_dir() / "scifact-beir").exists():
        pytest.skip("no SciFact data")
    corpus, queries, qrels = load_beir("scifact")
    doc_ids = list(corpus)
    stemmer = stemmer_mod.Stemmer("english")
    tokens = bm25s.tokenize([f"{t} {x}" for t, x in corpus.values()], stopwords="en", stemmer=stemmer,
                            show_progress=False)
    model = bm25s.BM25(method="lucene", k1=0.9, b=0.4)
    model.index(tokens, show_progress=False)
    qids = list(queries)
    q_tokens = bm25s.tokenize([queries[q] for q in qids], stopwords="en", stemmer=stemmer,
                              show_progress=False)
    docs, _ = model.retrieve(q_tokens, k=100, show_progress=False)
    runs = {q: [doc_ids[j] for j in row] for q, row in zip(qids, docs, strict=True)}
    assert round(mean_retrieval(runs, qrels, 10)["ndcg"].mean, 4) == 0.6762
    assert round(mean_retrieval(runs, qrels, 100)["recall"].mean, 4) == 0.9127


def test_expected_calibration_error_by_hand() -> None:
    from eval.metrics import calibration_bins, expected_calibration_error

    # bin 0.9: confidence 0.9, accuracy 1/2; bin 0.2: confidence 0.2, accuracy 0 -> (2 * 0.4 + 1 * 0.2) / 3
    assert expected_calibration_error([0.9, 0.9, 0.2], [True, False, False]) == pytest.approx(1 / 3)
    # calibrated: eight answers at 0.75, six of them right
    conf = [0.75] * 8
    assert expected_calibration_error(conf, [True] * 6 + [False] * 2) == pytest.approx(0.0)
    assert expected_calibration_error([1.0, 0.0], [True, False]) == pytest.approx(0.0)  # edges fall in a bin
    bins = calibration_bins([0.05, 0.95, 0.96], [False, True, False])
    assert [(b["low"], b["n"]) for b in bins] == [(0.0, 1.0), (pytest.approx(0.9), 2.0)]
    assert math.isnan(expected_calibration_error([], []))
    with pytest.raises(ValueError):
        expected_calibration_error([0.5], [])
