"""Evaluation metrics: SQuAD v1.1/v2.0 EM/F1, retrieval (nDCG/MRR/Recall@k), citations, refusal, latency.

Shapes: functions that score one item return a plain ``float``; helpers that aggregate over many items
return :class:`Score` (mean plus per-item values) or, where they mirror an official script
(``squad_v1_scores``, ``squad_v2_scores``) or report several rates (``refusal_accuracy``), a flat
``dict[str, float]``.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

SquadDataset: TypeAlias = Mapping[str, Any] | Sequence[Any]
"""The whole SQuAD JSON (``{"version", "data"}``) or just its ``data`` list of articles."""


@dataclass(frozen=True)
class Score:
    """An aggregate: ``mean`` of ``per_item`` (0.0 when there are no items)."""

    mean: float
    per_item: tuple[float, ...]


def mean_score(values: Iterable[float]) -> Score:
    """Wrap per-item values as a :class:`Score`; the mean of no items is 0.0."""
    items = tuple(float(v) for v in values)
    return Score(mean=sum(items) / len(items) if items else 0.0, per_item=items)


# --------------------------------------------------------------------------- SQuAD (official scripts)

_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(s: str) -> str:
    """Official SQuAD normalisation: lower case, drop ASCII punctuation, drop a/an/the, collapse spaces."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def token_f1(prediction: str, gold: str) -> float:
    """Official SQuAD v1.1 token F1 of one prediction against one gold answer (0.0 if nothing overlaps)."""
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    num_same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _max_over(metric: Callable[[str, str], float], prediction: str, golds: Sequence[str]) -> float:
    return max((metric(prediction, g) for g in golds), default=0.0)


def exact_match(prediction: str, gold_answers: Sequence[str]) -> float:
    """SQuAD v1.1 exact match: 1.0 if the normalised prediction equals any normalised gold, else 0.0."""
    return _max_over(lambda p, g: float(normalize_answer(p) == normalize_answer(g)), prediction, gold_answers)


def f1(prediction: str, gold_answers: Sequence[str]) -> float:
    """SQuAD v1.1 F1: the maximum :func:`token_f1` over the gold answers (0.0 with no golds)."""
    return _max_over(token_f1, prediction, gold_answers)


def _qas(dataset: SquadDataset) -> Iterable[dict[str, Any]]:
    for article in dataset["data"] if isinstance(dataset, Mapping) else dataset:
        for paragraph in article["paragraphs"]:
            yield from paragraph["qas"]


def squad_v1_scores(dataset: SquadDataset, predictions: Mapping[str, str]) -> dict[str, float]:
    """Official evaluate-v1.1: ``{"exact_match": %, "f1": %}`` over ALL questions of ``dataset``.

    A question without a prediction scores 0 (the official script prints a warning and counts it).
    """
    em_sum = f1_sum = 0.0
    total = 0
    for qa in _qas(dataset):
        total += 1
        if qa["id"] not in predictions:
            continue
        golds = [a["text"] for a in qa["answers"]]
        em_sum += exact_match(predictions[qa["id"]], golds)
        f1_sum += f1(predictions[qa["id"]], golds)
    if total == 0:
        return {"exact_match": 0.0, "f1": 0.0}
    return {"exact_match": 100.0 * em_sum / total, "f1": 100.0 * f1_sum / total}


def _v2_golds(gold_answers: Sequence[str]) -> list[str]:
    golds = [g for g in gold_answers if normalize_answer(g)]
    return golds or [""]  # unanswerable: the only correct answer is the empty string


def _f1_v2_single(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:  # either is a no-answer: 1 if both are, else 0
        return float(pred_tokens == gold_tokens)
    return token_f1(prediction, gold)


def exact_match_v2(prediction: str, gold_answers: Sequence[str]) -> float:
    """SQuAD v2.0 exact match; empty ``gold_answers`` means unanswerable, where only ``""`` is right."""
    return _max_over(lambda p, g: float(normalize_answer(p) == normalize_answer(g)), prediction,
                     _v2_golds(gold_answers))


def f1_v2(prediction: str, gold_answers: Sequence[str]) -> float:
    """SQuAD v2.0 F1 (max over golds); with no gold, 1.0 for an empty prediction and 0.0 otherwise."""
    return _max_over(_f1_v2_single, prediction, _v2_golds(gold_answers))


def squad_v2_scores(dataset: SquadDataset, predictions: Mapping[str, str]) -> dict[str, float]:
    """Official evaluate-v2.0 without no-answer-probability thresholds, in percent.

    Keys: ``exact``, ``f1``, ``total`` and the same prefixed with ``HasAns_`` / ``NoAns_`` (each block only
    when such questions exist). A question without a prediction scores 0 (the official script crashes).
    """
    exact: dict[str, float] = {}
    f1s: dict[str, float] = {}
    has_ans: dict[str, bool] = {}
    for qa in _qas(dataset):
        qid = qa["id"]
        golds = [a["text"] for a in qa["answers"]]
        has_ans[qid] = bool(golds)
        pred = predictions.get(qid)
        exact[qid] = 0.0 if pred is None else exact_match_v2(pred, golds)
        f1s[qid] = 0.0 if pred is None else f1_v2(pred, golds)

    def block(qids: list[str], prefix: str) -> dict[str, float]:
        n = len(qids)
        return {
            f"{prefix}exact": 100.0 * sum(exact[q] for q in qids) / n,
            f"{prefix}f1": 100.0 * sum(f1s[q] for q in qids) / n,
            f"{prefix}total": float(n),
        }

    out: dict[str, float] = {"exact": 0.0, "f1": 0.0, "total": 0.0}
    if has_ans:
        out = block(list(has_ans), "")
    for prefix, want in (("HasAns_", True), ("NoAns_", False)):
        qids = [q for q, h in has_ans.items() if h is want]
        if qids:
            out.update(block(qids, prefix))
    return out


# --------------------------------------------------------------------------- retrieval


def _top_k(ranked_ids: Sequence[str], k: int) -> list[str]:
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    seen: set[str] = set()
    top: list[str] = []
    for doc_id in ranked_ids:  # a repeated id counts once, at its best rank
        if doc_id not in seen:
            seen.add(doc_id)
            top.append(doc_id)
            if len(top) == k:
                break
    return top


def ndcg_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """nDCG@k as in BEIR/pytrec_eval ``ndcg_cut``: gain = graded relevance, discount log2(rank + 1).

    The ideal DCG ranks all judged relevances (not only retrieved ones) in descending order. Judgements
    <= 0 give no gain. Returns 0.0 when the query has no positive judgement.
    """
    dcg = sum(max(relevance.get(d, 0), 0) / math.log2(r + 1) for r, d in enumerate(_top_k(ranked_ids, k), 1))
    ideal = sorted((g for g in relevance.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(r + 1) for r, g in enumerate(ideal, 1))
    return dcg / idcg if idcg > 0 else 0.0


def mrr_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant (relevance > 0) id in the top k, else 0.0."""
    for rank, doc_id in enumerate(_top_k(ranked_ids, k), 1):
        if relevance.get(doc_id, 0) > 0:
            return 1.0 / rank
    return 0.0


def recall_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """Fraction of relevant (relevance > 0) ids found in the top k; 0.0 when nothing is relevant."""
    relevant = {d for d, g in relevance.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_top_k(ranked_ids, k))) / len(relevant)


def mean_retrieval(
    runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], k: int
) -> dict[str, Score]:
    """Mean nDCG@k, MRR@k and Recall@k over every query in ``qrels`` (sorted by query id).

    Returns ``{"ndcg": Score, "mrr": Score, "recall": Score}``; a query missing from ``runs`` scores 0.
    """
    qids = sorted(qrels)
    out: dict[str, Score] = {}
    for name, fn in (("ndcg", ndcg_at_k), ("mrr", mrr_at_k), ("recall", recall_at_k)):
        out[name] = mean_score(fn(runs.get(q, ()), qrels[q], k) for q in qids)
    return out


# --------------------------------------------------------------------------- answers and citations


def _contains(text: str, needle: str) -> bool:
    """Whole-token containment of normalised ``needle`` in normalised ``text``; empty needles never match."""
    n = normalize_answer(needle)
    return bool(n) and f" {n} " in f" {normalize_answer(text)} "


def answer_contains(answer_text: str, gold_answers: Sequence[str]) -> float:
    """1.0 if some normalised gold occurs in the normalised answer as a whole-token span, else 0.0.

    Golds that normalise to the empty string (e.g. "the") are ignored; "cat" is not found in "concat".
    """
    return float(any(_contains(answer_text, g) for g in gold_answers))


def citation_precision(cited_quotes: Sequence[str], gold_answers_or_evidence: Sequence[str]) -> float:
    """Fraction of cited quotes that contain (as in :func:`answer_contains`) any gold string.

    No citations at all gives 0.0: an uncited answer earns no citation credit.
    """
    if not cited_quotes:
        return 0.0
    hits = sum(any(_contains(q, g) for g in gold_answers_or_evidence) for q in cited_quotes)
    return hits / len(cited_quotes)


# --------------------------------------------------------------------------- refusal


def refusal_accuracy(refused: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float]:
    """Refusal behaviour on a mix of answerable and unanswerable questions.

    Keys: ``answered_rate_answerable`` (answered / answerable), ``refused_rate_unanswerable``
    (refused / unanswerable), ``accuracy`` (answered when answerable or refused when not, over all),
    ``n_answerable``, ``n_unanswerable``. A rate over an empty group is ``nan``.
    """
    if len(refused) != len(answerable):
        raise ValueError(f"length mismatch: {len(refused)} refused vs {len(answerable)} answerable")
    n_ans = sum(1 for a in answerable if a)
    n_unans = len(answerable) - n_ans
    answered_ok = sum(1 for r, a in zip(refused, answerable, strict=True) if a and not r)
    refused_ok = sum(1 for r, a in zip(refused, answerable, strict=True) if not a and r)
    nan = float("nan")
    return {
        "answered_rate_answerable": answered_ok / n_ans if n_ans else nan,
        "refused_rate_unanswerable": refused_ok / n_unans if n_unans else nan,
        "accuracy": (answered_ok + refused_ok) / len(answerable) if answerable else nan,
        "n_answerable": float(n_ans),
        "n_unanswerable": float(n_unans),
    }


def coverage_accuracy_curve(
    scores: Sequence[float], answerable: Sequence[bool], thresholds: Iterable[float]
) -> list[dict[str, float]]:
    """For each threshold t, answer when score >= t and refuse otherwise; report :func:`refusal_accuracy`.

    Returns one dict per threshold (in the given order) with ``threshold`` added to the refusal keys.
    """
    out = []
    for t in thresholds:
        row = {"threshold": float(t)}
        row.update(refusal_accuracy([s < t for s in scores], answerable))
        out.append(row)
    return out


def roc_auc(scores: Sequence[float], answerable: Sequence[bool]) -> float:
    """The probability that a random answerable question scores above a random unanswerable one (ties count
    half): the ROC AUC of `scores` as an answer/refuse signal. ``nan`` when a class is empty."""
    if len(scores) != len(answerable):
        raise ValueError(f"length mismatch: {len(scores)} scores vs {len(answerable)} answerable")
    pos = np.asarray([s for s, a in zip(scores, answerable, strict=True) if a], dtype=float)
    neg = np.asarray([s for s, a in zip(scores, answerable, strict=True) if not a], dtype=float)
    if not len(pos) or not len(neg):
        return float("nan")
    both = np.concatenate([pos, neg])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(len(both))
    ranks[order] = np.arange(1, len(both) + 1)
    for value in np.unique(both):  # ties share their mean rank
        same = both == value
        ranks[same] = ranks[same].mean()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def refused_at_answered(scores: Sequence[float], answerable: Sequence[bool], answered: float) -> float:
    """The share of unanswerable questions refused by the highest threshold that still answers at least
    `answered` (0..1) of the answerable ones (answer when score >= threshold). ``nan`` when a class is empty."""
    if not 0 < answered <= 1:
        raise ValueError(f"answered must be within (0, 1], got {answered}")
    pos = sorted((s for s, a in zip(scores, answerable, strict=True) if a), reverse=True)
    neg = [s for s, a in zip(scores, answerable, strict=True) if not a]
    if not pos or not neg:
        return float("nan")
    threshold = pos[math.ceil(answered * len(pos) - 1e-9) - 1]  # the score of the last answerable kept
    return sum(1 for s in neg if s < threshold) / len(neg)


# --------------------------------------------------------------------------- latency


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0 <= p <= 100) with linear interpolation, as ``numpy.percentile``.

    Raises ``ValueError`` on no values or p outside [0, 100].
    """
    if len(values) == 0:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"p must be within [0, 100], got {p}")
    return float(np.percentile(np.asarray(values, dtype=float), p))


def calibration_bins(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[dict[str, float]]:
    """Reliability diagram data: per equal-width confidence bin, its count, mean confidence and accuracy
    (empty bins left out). Confidence 1.0 falls in the last bin."""
    rows = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidences) if lo <= c < hi or (b == bins - 1 and c == hi)]
        if idx:
            rows.append({"low": lo, "high": hi, "n": float(len(idx)),
                         "confidence": sum(confidences[i] for i in idx) / len(idx),
                         "accuracy": sum(bool(correct[i]) for i in idx) / len(idx)})
    return rows


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """ECE: the count-weighted mean |accuracy - confidence| over equal-width bins (Guo et al., 2017).

    >>> expected_calibration_error([0.9, 0.9, 0.2], [True, False, False])  # (2 x 0.4 + 1 x 0.2) / 3
    0.333333333333
    """
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct must have the same length")
    if not confidences:
        return float("nan")
    total = len(confidences)
    return round(sum(r["n"] / total * abs(r["accuracy"] - r["confidence"])
                     for r in calibration_bins(confidences, correct, bins)), 12)
