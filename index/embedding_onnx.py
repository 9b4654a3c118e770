"""The ONNX Runtime embedder: the same sentence-transformers model, exported once, run without torch.

The export is reproducible from the packaged model folder: `torch.onnx.export` of its transformer (token
states out; the mean pooling and normalisation the folder's modules ask for are done here, as
sentence-transformers does them), then for "int8" `onnxruntime.quantization.quantize_dynamic` (int8
weights, activations quantised per call). The files are kept under `cache_dir/<model>-<weights sha256
prefix>-<recipe>/`, written atomically, so the export runs once per machine (a few seconds) and torch is
not imported again while the file is there.

    fp32   the torch model's vectors to ~1e-6 (cosine 1.0000): interchangeable with "torch"
    int8   ~2-3x the speed, with drift (cosine ~0.96-0.99 to fp32): its own embedder name, so an index
           built with it is never searched with the other precisions' vectors

Each text runs in a batch of its own for int8: dynamic quantisation scales activations per call, so a
batch mate (or its padding) would move a text's vector; alone, a text always gets the same vector.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import DEFAULT_MODEL, INT8_SUFFIX, normalised, resolve_model_path, span_vectors
from index.errors import ConfigError

PRECISIONS = ("fp32", "int8")
# MatMuls int8 leaves in fp32: each layer's feed-forward output (1536 -> 384, whose input after GELU has the
# widest activation range). Cosine to torch on 120 SciFact abstracts: 0.9979 mean with them kept, 0.9952 without
FP32_MATMULS = re.compile(r"layer\.\d+/output/dense/MatMul$")
RECIPE = "opset17-pc-ffn32-v1"  # change when the export or quantisation recipe changes: old files are then not reused


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seedrag" / "onnx"


class OnnxEmbedder:
    """A sentence-transformers folder (default all-MiniLM-L6-v2) through ONNX Runtime, fp32 or int8.

    >>> e = OnnxEmbedder(precision="int8")
    >>> e.embed_queries(["ATACMS range"]).shape
    (1, 384)
    """

    def __init__(self, model: str | None = None, precision: str = "fp32", cache_dir: str | Path | None = None,
                 batch_size: int = 32, threads: int = 0) -> None:
        if precision not in PRECISIONS:
            raise ConfigError(f"ONNX precision must be one of {', '.join(PRECISIONS)}. Currently, it is {precision!r}.")
        self.model_name = model or DEFAULT_MODEL
        self.precision = precision
        self.name = self.model_name if precision == "fp32" else self.model_name + INT8_SUFFIX
        # eval's embedding cache tells backends (and int8 recipes) apart
        self.cache_key = f"{self.model_name}+onnx-{precision}" + (f"-{RECIPE}" if precision == "int8" else "")
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.batch_size = batch_size if precision == "fp32" else 1
        self.threads = threads
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, int, int] | None = None  # session, tokenizer, max tokens, dimension
        self._counter: Any = None  # counts word pieces for `fits` (made by `_load`)

    # ---- loading -------------------------------------------------------------------------------
    def _parts(self) -> tuple[Any, Any, int, int]:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self) -> tuple[Any, Any, int, int]:
        import onnxruntime
        from tokenizers import Tokenizer

        folder = _model_folder(self.model_name)
        config = _read_json(folder / "sentence_bert_config.json", {})
        max_tokens = int(config.get("max_seq_length", 256))
        _check_pooling(folder)
        path = self.model_file(folder)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_tokens)
        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))  # `fits`: counts, never truncates
        self._counter.no_padding()
        self._counter.no_truncation()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # idle threads sleep instead of spinning: with the reranker, the reader or another process on the
        # other core, spinning cost int8 ~15% (27.3 vs 23.6 docs/s at load ~3, same run)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a damaged cache file: say where it is and how to get a fresh one
            raise ConfigError(f"Cannot load the ONNX export {path}: {exc}. Delete that folder and run again: "
                              "it is re-exported from the model.") from exc
        dimension = int(session.get_outputs()[0].shape[-1] or _read_json(folder / "config.json", {})["hidden_size"])
        return session, tokenizer, max_tokens, dimension

    def model_file(self, folder: Path | None = None) -> Path:
        """The ONNX file of this model and precision, exported (and quantised) first if it is not cached."""
        folder = folder or _model_folder(self.model_name)
        weights = _weights_file(folder)
        digest = _sha256(weights)[:16]
        target = self.cache_dir / f"{_safe(self.model_name)}-{digest}-{RECIPE}"
        fp32, int8 = target / "model.onnx", target / "model-int8.onnx"
        if not fp32.exists():
            _atomic(fp32, lambda tmp: export(folder, tmp))
        if self.precision == "int8" and not int8.exists():
            _atomic(int8, lambda tmp: quantize(fp32, tmp))
        return fp32 if self.precision == "fp32" else int8

    # ---- the Embedder contract -----------------------------------------------------------------
    @property
    def dimension(self) -> int:
        return self._parts()[3]

    @property
    def max_tokens(self) -> int:
        return self._parts()[2]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._pooled(texts)[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._pooled(texts)[0]

    def embed_documents_and_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                                  ) -> tuple[np.ndarray, list[np.ndarray]]:
        """As `SentenceTransformerEmbedder.embed_documents_and_spans`: a vector per text and, from the same
        forward pass, one per span (the mean of the token states inside it, normalised)."""
        return self._pooled(texts, spans)

    def fits(self, texts: Sequence[str]) -> list[bool]:
        max_tokens = self._parts()[2]  # loads `_counter` beside the shared (always truncating) tokenizer
        return [len(e.ids) <= max_tokens for e in self._counter.encode_batch(list(texts))]

    # ---- the forward pass ----------------------------------------------------------------------
    def _pooled(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]] | None = None,
                ) -> tuple[np.ndarray, list[np.ndarray]]:
        session, tokenizer, _, dimension = self._parts()
        if not texts:
            return np.zeros((0, dimension), dtype=np.float32), []
        encoded = tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))  # little padding per batch
        vectors = np.zeros((len(texts), dimension), dtype=np.float32)
        per_span: list[np.ndarray] = [np.zeros((0, dimension), np.float32)] * len(texts)
        wanted = {i for i in range(len(texts))} if spans is not None else set()
        inputs = {i.name for i in session.get_inputs()}
        for at in range(0, len(order), self.batch_size):
            rows = order[at:at + self.batch_size]
            arrays = feed([encoded[i] for i in rows], inputs)
            states = session.run(None, arrays)[0]
            mask = arrays["attention_mask"][..., None].astype(np.float32)
            sums = (states * mask).sum(axis=1)
            vectors[rows] = sums / np.maximum(mask.sum(axis=1), 1e-9)
            for r, i in enumerate(rows):
                if i in wanted and spans is not None:
                    per_span[i] = span_vectors(states[r, :len(encoded[i].ids)], encoded[i].offsets, spans[i])
        return normalised(vectors), per_span


def export(folder: Path, out: Path) -> None:
    """Export the transformer of the sentence-transformers `folder` to ONNX at `out` (opset 17; inputs
    input_ids, attention_mask, token_type_ids; output the token states, dynamic batch and length)."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise ConfigError("The ONNX export needs torch and transformers once (pip install 'seedrag'); "
                          "or copy an exported model.onnx into the ONNX cache folder.") from exc

    model = AutoModel.from_pretrained(str(folder), local_files_only=True, attn_implementation="eager").eval()

    class States(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches: shapes are dynamic
        torch.onnx.export(States(), (sample, sample, torch.zeros_like(sample)), str(out), dynamo=False,
                          opset_version=17, input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["token_states"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "token_states": axes})


def quantize(fp32: Path, out: Path) -> None:
    """int8 dynamic quantisation of the fp32 export's MatMuls: weights int8 per output channel, activations
    per call. Measured on 120 SciFact abstracts against torch fp32: per channel, MatMul only, cosine mean 0.995
    (min 0.992); per tensor (the default) 0.936 (min 0.900) at the same speed."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(fp32), load_external_data=False).graph
    keep = [n.name for n in graph.node if n.op_type == "MatMul" and FP32_MATMULS.search(n.name)]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs "consider pre-processing" on the root logger at every call
    try:
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=keep)
    finally:
        root.setLevel(level)


def feed(encoded: Sequence[Any], names: set[str] | None = None) -> dict[str, np.ndarray]:
    """`input_ids`, `attention_mask`, `token_type_ids` (those in `names`, default all) of tokenizers'
    encodings, zero-padded to the longest: the inputs every BERT-style ONNX model here takes."""
    width = max(len(e.ids) for e in encoded)
    arrays = {name: np.zeros((len(encoded), width), dtype=np.int64)
              for name in ("input_ids", "attention_mask", "token_type_ids")}
    for row, e in enumerate(encoded):
        n = len(e.ids)
        arrays["input_ids"][row, :n] = e.ids
        arrays["attention_mask"][row, :n] = e.attention_mask
        arrays["token_type_ids"][row, :n] = e.type_ids
    return {k: v for k, v in arrays.items() if names is None or k in names}


def _model_folder(name: str) -> Path:
    folder = Path(resolve_model_path(name))
    if not (folder / "tokenizer.json").is_file():
        raise ConfigError(f"The ONNX embedder needs a sentence-transformers model folder with tokenizer.json; "
                          f"{name!r} is not one ({folder}). Use the default model, or the torch backend "
                          "(SEEDRAG_EMBEDDING_BACKEND=torch).")
    return folder


def _check_pooling(folder: Path) -> None:
    pooling = _read_json(folder / "1_Pooling" / "config.json", {"pooling_mode_mean_tokens": True})
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ConfigError(f"The ONNX embedder pools by mean; the model in {folder} pools otherwise. Use the "
                          "torch backend for it (SEEDRAG_EMBEDDING_BACKEND=torch).")


def _weights_file(folder: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    raise ConfigError(f"No model.safetensors or pytorch_model.bin in {folder}: cannot export it to ONNX.")


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _atomic(path: Path, write: Any) -> None:
    """`write(tmp)` then rename to `path`: a crash or a second process never leaves half a model there."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"Cannot create the ONNX cache folder {path.parent}: {exc.strerror or exc}. Set "
                          "SEEDRAG_ONNX_CACHE to a writable folder.") from exc
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
