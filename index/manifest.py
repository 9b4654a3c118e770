"""The versioned manifest of an index: what built it, with which settings, from which files."""

from __future__ import annotations

import importlib.metadata
from dataclasses import asdict, dataclass, field
from typing import Any

from index.embedding import INT8_SUFFIX
from index.errors import IndexMismatchError

FORMAT = "seedrag-index/1"
_PACKAGES = ("seedrag", "sentence-transformers", "faiss-cpu", "torch", "bm25s", "tiktoken")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


@dataclass(frozen=True)
class Manifest:
    """Everything needed to tell whether an index can serve the current settings."""

    embedding_model: str
    dimension: int
    chunk_tokens: int
    chunk_overlap: int
    files: dict[str, str] = field(default_factory=dict)  # source -> sha256 of its bytes
    format: str = FORMAT
    packages: dict[str, str] = field(default_factory=package_versions)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the calibrated refusal threshold
    loaders: str = ""  # index.documents.LOADERS_VERSION that read the files ("": before loaders were versioned)
    sentence_vectors: bool = False  # the chunks carry their sentences' vectors (False: built before they were)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format") != FORMAT:
            raise IndexMismatchError(
                f"The index has format {data.get('format')!r}, this seedrag reads {FORMAT!r}. "
                "Re-index: seedrag index --rebuild"
            )
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def check_compatible(self, embedding_model: str, dimension: int | None = None) -> None:
        """Raise `IndexMismatchError` if this index was built with another model or dimension."""
        if self.embedding_model != embedding_model:
            raise IndexMismatchError(
                f"The index was built with embedding model {self.embedding_model!r}, but the setting asks "
                f"for {embedding_model!r}. Re-index with the new model (seedrag index --rebuild) or set "
                f"{_settings_of(self.embedding_model)}."
            )
        if dimension is not None and self.dimension != dimension:
            raise IndexMismatchError(
                f"The index holds {self.dimension}-dimensional vectors, the model makes {dimension}. "
                "Re-index: seedrag index --rebuild"
            )


def _settings_of(embedder_name: str) -> str:
    """The SEEDRAG_* settings that make the embedder named `embedder_name` (see index.embedding_onnx)."""
    model, int8, _ = embedder_name.partition(INT8_SUFFIX)
    if int8:
        return f"SEEDRAG_EMBEDDING_MODEL={model} and SEEDRAG_EMBEDDING_BACKEND=onnx-int8 (or auto)"
    return f"SEEDRAG_EMBEDDING_MODEL={model} and SEEDRAG_EMBEDDING_BACKEND=onnx or torch (or auto)"
