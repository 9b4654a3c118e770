"""The calibrated "not in the documents" decision.

An extractive answer is refused when the support of its best sentence (see `rag.extract`) is below a
threshold. The threshold is not guessed: `seedrag eval calibrate` picks it on questions the documents
answer and questions they do not (the project's seed set and SQuAD 2.0 dev);
`python -m eval.suites.calibrate --write` writes `rag/calibration.json`. A setting (`refusal_threshold`) overrides it.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Literal

REFUSAL_TEXT = "I could not find the answer in the documents."
# Why an LLM answer was not shown (Answer.fallback): the model said it could not find it ("refused"), no sentence
# is supported ("unsupported"), supported sentences lack what was asked ("mismatch"), nothing fitted the prompt
# ("no_passages"), or the LLM check said the best passage does not state the answer ("not_stated").
Fallback = Literal["refused", "unsupported", "mismatch", "no_passages", "not_stated"]


@functools.cache
def calibration() -> dict[str, Any]:
    """The shipped calibration record (threshold, how it was chosen, the measured trade-off)."""
    return dict(json.loads((resources.files("rag") / "calibration.json").read_text()))


def default_threshold() -> float:
    return float(calibration()["threshold"])


def should_refuse(best_support: float | None, threshold: float) -> bool:
    """Refuse when nothing was found or the best evidence is weaker than the threshold."""
    return best_support is None or best_support < threshold
