"""What the ONNX models of `rag` (the cross-encoder, the answer reader) share: a sha256-checked load and the
padded input arrays of a tokenized batch."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import ConfigError


def checked_session(path: Path, expected_sha256: str, what: str, fix: str, threads: int = 1) -> Any:
    """An onnxruntime session of the model file at `path` (CPU, `threads` intra-op threads), or a ConfigError
    naming `what` and `fix` when the file is unreadable or its sha256 is not `expected_sha256`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read the {what} at {path}: {exc.strerror or exc}. {fix}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256:
        raise ConfigError(f"The {what} at {path} has sha256 {digest[:12]}..., not the expected "
                          f"{expected_sha256[:12]}...: refusing to run it. {fix}")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def feed(encoded: Sequence[Any]) -> dict[str, np.ndarray]:
    """`input_ids`, `attention_mask`, `token_type_ids` of tokenizers' encodings, zero-padded to the longest."""
    width = max(len(e.ids) for e in encoded)
    arrays = {name: np.zeros((len(encoded), width), dtype=np.int64)
              for name in ("input_ids", "attention_mask", "token_type_ids")}
    for row, e in enumerate(encoded):
        n = len(e.ids)
        arrays["input_ids"][row, :n] = e.ids
        arrays["attention_mask"][row, :n] = e.attention_mask
        arrays["token_type_ids"][row, :n] = e.type_ids
    return arrays
