"""The evidence model: a sentence's cross-encoder logit, reader logit and term coverage -> P(the answer is right).

`rag.extract` ranks every retrieved sentence by its support (cosine + idf-weighted term coverage + answer
type); the first `rerank` of them are scored by the cross-encoder (`rag.rerank`, relevance) and the answer
reader (`rag.reader`, does the sentence answer, and with which phrase). Two fitted steps, both on calibration
questions only (`python -m eval.fit_evidence`; `rag/evidence.json` records on which, how, and the effect):

1. `z = intercept + sum(coef[f] * feature[f])`: a logistic regression over every scored sentence of the
   calibration questions (label: the sentence holds a gold answer). The answer is the sentence with the
   highest z.
2. `probability = sigmoid(platt_a * z + platt_b)`: Platt scaling of the chosen sentence's z against whether
   the answer was right, so the confidence people see is calibrated on the answers the product gives (the
   best of ten scores higher than a random sentence of the same z would deserve).

The refusal gate compares that probability with the calibrated `threshold`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from rag.extract import Candidate
from rag.reader import Reader
from rag.rerank import Reranker

FEATURES = ("ce", "reader", "lexical")

# the reader runs beside the cross-encoder (each model is one onnxruntime thread that releases the GIL): on two
# cores a question waits for the slower model only; a few workers so concurrent questions do not queue here
_BESIDE = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="seedrag-reader")


@dataclass(frozen=True)
class EvidenceModel:
    """The shipped model (`rag/evidence.json`)."""

    coef: Mapping[str, float]  # feature name (FEATURES) -> coefficient, raw units
    intercept: float
    platt: tuple[float, float]  # (a, b): probability = sigmoid(a * z + b)
    rerank: int  # how many of the best-supported sentences the models score
    threshold: float  # refuse below this probability
    record: dict[str, Any]

    def logit(self, features: Mapping[str, float]) -> float:
        return self.intercept + sum(c * features[f] for f, c in self.coef.items())

    def probability(self, features: Mapping[str, float]) -> float:
        a, b = self.platt
        return _sigmoid(a * self.logit(features) + b)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def from_record(record: dict[str, Any]) -> EvidenceModel:
    return EvidenceModel(dict(record["coef"]), float(record["intercept"]), tuple(record["platt"]),  # type: ignore[arg-type]
                         int(record["rerank"]), float(record["threshold"]), record)


@functools.cache
def shipped() -> EvidenceModel:
    return from_record(json.loads((resources.files("rag") / "evidence.json").read_text(encoding="utf-8")))


def features(candidate: Candidate) -> dict[str, float]:
    """The model's inputs for a scored candidate (ce and reader must be set)."""
    return {"ce": candidate.ce or 0.0, "reader": candidate.reader or 0.0, "lexical": candidate.lexical}


def score(question: str, ranked: Sequence[Candidate], reranker: Reranker, reader: Reader,
          n: int) -> list[Candidate]:
    """The first `n` of `ranked` with their cross-encoder logit, reader logit and answer phrase set."""
    top = list(ranked[:n])
    if not top:
        return []
    texts = [c.text for c in top]
    reading = _BESIDE.submit(reader.read, question, texts)
    logits = reranker.score(question, texts)
    readings = reading.result()
    return [dataclasses.replace(c, ce=float(s), reader=r.answer_logit, phrase=(c.start + r.start, c.start + r.end))
            for c, s, r in zip(top, logits, readings, strict=True)]


def rank(question: str, ranked: Sequence[Candidate], reranker: Reranker, reader: Reader,
         model: EvidenceModel | None = None) -> list[Candidate]:
    """`ranked` (best support first) with the top `model.rerank` scored and re-ordered by the evidence model,
    each carrying its logits, phrase and probability; the rest follow unscored."""
    model = model or shipped()
    scored = [dataclasses.replace(c, probability=model.probability(features(c)))
              for c in score(question, ranked, reranker, reader, model.rerank)]
    scored.sort(key=lambda c: (-(c.probability or 0.0), -c.support))
    return scored + list(ranked[model.rerank:])
