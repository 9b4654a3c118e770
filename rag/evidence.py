"""The evidence model: a sentence's cross-encoder logit and term coverage -> P(the answer is right).

`rag.extract` ranks every retrieved sentence by its support (cosine + idf-weighted term coverage + answer
type); the first `rerank` of them are scored by the cross-encoder (`rag.rerank`) against the question, and
each gets `probability = sigmoid(ce * coef_ce + lexical * coef_lexical + intercept)`, a logistic regression
fitted on calibration questions only (`rag/evidence.json` says on which, how, and the measured effect). The
answer is the most probable sentence; the refusal gate compares that probability with the calibrated
`threshold` (`seedrag eval calibrate` with the reranker on).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from rag.extract import Candidate
from rag.rerank import Reranker


@dataclass(frozen=True)
class EvidenceModel:
    """The shipped model (`rag/evidence.json`)."""

    coef_ce: float
    coef_lexical: float
    intercept: float
    rerank: int  # how many of the best-supported sentences the cross-encoder scores
    threshold: float  # refuse below this probability
    record: dict[str, Any]

    def probability(self, ce: float, lexical: float) -> float:
        z = self.coef_ce * ce + self.coef_lexical * lexical + self.intercept
        return 1.0 / (1.0 + math.exp(-z))


@functools.cache
def shipped() -> EvidenceModel:
    record = json.loads((resources.files("rag") / "evidence.json").read_text(encoding="utf-8"))
    return EvidenceModel(record["coef"]["ce"], record["coef"]["lexical"], record["intercept"], record["rerank"],
                         record["threshold"], record)


def rank(question: str, ranked: Sequence[Candidate], reranker: Reranker,
         model: EvidenceModel | None = None) -> list[Candidate]:
    """`ranked` (best support first) with the top `model.rerank` re-ordered by probability, each carrying its
    cross-encoder logit and probability; the rest follow unscored."""
    model = model or shipped()
    top = list(ranked[:model.rerank])
    if not top:
        return []
    logits = reranker.score(question, [c.text for c in top])
    scored = [dataclasses.replace(c, ce=float(s), probability=model.probability(float(s), c.lexical))
              for c, s in zip(top, logits, strict=True)]
    scored.sort(key=lambda c: (-(c.probability or 0.0), -c.support))
    return scored + list(ranked[model.rerank:])
