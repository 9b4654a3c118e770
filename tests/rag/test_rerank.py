"""The Reranker contract, the packaged cross-encoder, and the evidence model that uses it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from index.errors import ConfigError
from rag.evidence import FEATURES, EvidenceModel, rank, shipped
from rag.extract import Candidate
from rag.reader import Reader
from rag.rerank import CrossEncoderReranker, Reranker, create_reranker, model_folder
from rag.testing import OTHER, QUESTION, RANGE, RerankerContract


@pytest.fixture(scope="module")
def cross_encoder() -> CrossEncoderReranker:
    return CrossEncoderReranker()


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


class TestRerankerContract(RerankerContract):
    """The packaged cross-encoder passes the contract (rag/testing.py)."""

    @pytest.fixture
    def reranker(self, cross_encoder) -> Reranker:
        return cross_encoder


def test_a_model_file_with_another_hash_is_refused(tmp_path):
    folder = tmp_path / "reranker_en"
    shutil.copytree(model_folder(), folder)
    with open(folder / "model.onnx", "r+b") as f:
        f.seek(1000)
        f.write(b"tampered")
    with pytest.raises(ConfigError, match="sha256"):
        CrossEncoderReranker(folder).score(QUESTION, [RANGE])


def test_unknown_reranker_names_the_known_ones():
    with pytest.raises(ConfigError, match="Known rerankers: cross-encoder"):
        create_reranker("colbert-xl")
    assert isinstance(create_reranker("cross-encoder"), CrossEncoderReranker)


def candidate(text: str, support: float, lexical: float = 0.5) -> Candidate:
    return Candidate("a.txt", 0, len(text), text, None, 0, 0.5, lexical, True, support)


def test_evidence_ranks_the_sentence_that_answers_first(cross_encoder, reader):
    # the support score prefers the off-topic sentence; the evidence model puts the answer first
    ranked = rank(QUESTION, [candidate(OTHER, 0.9), candidate(RANGE, 0.5)], cross_encoder, reader)
    assert ranked[0].text == RANGE
    assert ranked[0].probability > 0.5 > ranked[1].probability
    assert ranked[0].ce is not None and ranked[0].reader is not None and ranked[0].reader > ranked[1].reader
    start, end = ranked[0].phrase
    assert "190 miles" in RANGE[start:end] and end - start < len(RANGE) / 2  # the phrase, not the sentence


def test_only_the_best_supported_sentences_are_reranked(cross_encoder, reader):
    model = EvidenceModel({"ce": 0.25, "reader": 0.5, "lexical": 2.7}, -1.9, (1.0, 0.0), rerank=1, threshold=0.5,
                          record={})
    ranked = rank(QUESTION, [candidate(OTHER, 0.9), candidate(RANGE, 0.5)], cross_encoder, reader, model)
    assert [c.text for c in ranked] == [OTHER, RANGE] and ranked[1].probability is None and ranked[1].phrase is None


def test_the_shipped_model_says_how_it_was_fitted():
    model = shipped()
    assert 0 < model.threshold < 1 and model.rerank >= 1
    assert "calibration" in model.record["fitted_on"] and "eval.fit_evidence" in model.record["method"]
    assert set(model.coef) == set(FEATURES)
    good = {"ce": 10.0, "reader": 5.0, "lexical": 1.0}
    bad = {"ce": -10.0, "reader": -5.0, "lexical": 0.0}
    assert model.probability(good) > model.threshold > model.probability(bad)
    zero = {f: 0.0 for f in FEATURES}
    a, b = model.platt
    assert np.isclose(model.probability(zero), 1 / (1 + np.exp(-(a * model.intercept + b))))


UK_QUESTION = "Has the United Kingdom also authorized Ukraine to fire Storm Shadow missiles into Russia?"
COMPANY = [
    "President Joe Biden has authorized Ukraine to use U.S.-supplied long-range missiles to strike targets inside "
    "Russian territory for the first time, U.S. officials confirmed on Sunday.",
    "Short one.",
    "The move is a response to escalating threats from Russian and North Korean troops along Ukraine's northern "
    "border, particularly in the Kursk region, where more than 10,000 North Korean soldiers have reportedly been "
    "deployed to help Russia.",
]


def test_a_pair_scores_the_same_whatever_its_company(cross_encoder, reader):
    """The int8 models quantise activations over what they are given at once: batched, a pair's score moved with
    its neighbours (cross-encoder 5.21 alone, 5.14 beside a longer passage; reader -0.64 and -1.03), so the
    answer and its confidence depended on which other sentences were scored. Scored one pair at a time, never."""
    alone_ce = cross_encoder.score(UK_QUESTION, COMPANY[:1])[0]
    alone_reader = reader.read(UK_QUESTION, COMPANY[:1])[0]
    for company in (COMPANY, COMPANY[::-1], [COMPANY[0], COMPANY[2]]):
        at = company.index(COMPANY[0])
        assert cross_encoder.score(UK_QUESTION, company)[at] == alone_ce
        assert reader.read(UK_QUESTION, company)[at] == alone_reader
