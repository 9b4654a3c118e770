"""The Reranker contract as tests a third-party reranker can run (subclass with a `reranker` fixture):

    from rag.testing import RerankerContract

    class TestMyReranker(RerankerContract):
        @pytest.fixture
        def reranker(self):
            return MyReranker()

The Generator contract is `rag.generate.testing.GeneratorContract`, the Embedder's `index.testing.EmbedderContract`,
the Store's `index.stores.testing.StoreContract`. Needs pytest to run; imported only by tests.
"""

from __future__ import annotations

import pytest

from rag.rerank import Reranker

QUESTION = "What is the range of the ATACMS missile?"
RANGE = "ATACMS is a precision-guided missile with a range of up to 190 miles (300 kilometers)."
OTHER = "The tea was served in the garden after the rain had stopped."


class RerankerContract:
    """What every Reranker must do: a name, one score per passage in order, and a pair scored alike whatever
    passages come with it."""

    def test_is_a_reranker_with_a_name(self, reranker):
        assert isinstance(reranker, Reranker) and reranker.name

    def test_no_passages_no_scores(self, reranker):
        assert reranker.score(QUESTION, []).shape == (0,)

    def test_one_score_per_passage_in_order(self, reranker):
        scores = reranker.score(QUESTION, [OTHER, RANGE, OTHER])
        assert scores.shape == (3,) and scores[1] > scores[0] + 5
        assert scores[0] == pytest.approx(scores[2], abs=0.3)

    def test_a_pair_scores_alike_in_any_company(self, reranker):
        alone = reranker.score(QUESTION, [RANGE])[0]
        crowd = reranker.score(QUESTION, [OTHER * 3, RANGE, "Short."])[1]
        assert alone == pytest.approx(crowd, abs=0.3)  # int8 model: padding moves logits a little (MODELS.md)
