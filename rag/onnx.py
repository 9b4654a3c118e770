"""What the ONNX models of `rag` (the cross-encoder, the answer reader) share: a sha256-checked load and the
padded input arrays of a tokenized batch."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from index.embedding_onnx import feed
from index.errors import ConfigError

__all__ = ["checked_session", "feed"]


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
