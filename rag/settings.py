"""One frozen settings object. Environment variables (SEEDRAG_*) are read only by `Settings.from_env`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from index.chunking import check_chunk_settings
from index.embedding import DEFAULT_MODEL, Embedder, check_backend, make_embedder
from index.errors import ConfigError

PREFIX = "SEEDRAG_"
# read by other edges, not settings of the engine: the benchmark data folder
NOT_SETTINGS = frozenset({"SEEDRAG_DATA_DIR"})

MAX_QUESTION_CHARS = 4000  # a question or query longer than this is refused on every path (engine, REST, chat)
FUSIONS = ("mix", "rrf", "weighted")  # see rag.retrieve.fuse


@dataclass(frozen=True)
class Settings:
    """Every knob of seedrag, checked at construction.

    >>> Settings(k=3).k
    3
    >>> Settings(chunk_overlap=300)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    index.errors.ConfigError: chunk_overlap must be >= 0 and smaller than chunk_tokens (200). ...
    """

    index_dir: str = ".seedrag"          # FAISS store folder (ignored when `store` is a database URL)
    store: str | None = None             # e.g. postgresql://user@host/db; None = FAISS in index_dir
    docs_dir: str = "seeds"              # what `seedrag index` indexes when given no paths
    embedding_model: str = DEFAULT_MODEL
    embedding_backend: str = "auto"      # "auto" (index.embedding.choose_backend), "torch", "onnx", "onnx-int8"
    onnx_cache: str | None = None        # where ONNX exports of the model are kept (None = ~/.cache/seedrag/onnx)
    chunk_tokens: int = 200              # cl100k tokens per chunk
    chunk_overlap: int = 40
    k: int = 5                           # passages retrieved per question
    fusion: str = "mix"                  # "mix" (min-max normalised scores), "rrf" (reciprocal rank), "weighted"
    dense_weight: float = 0.5            # the dense share for fusion="mix" / "weighted"
    refusal_threshold: float | None = None  # None: the calibrated value (rag/evidence.json, or calibration.json)
    reranker: str = "cross-encoder"      # scores answer sentences (rag.evidence); "none": support score only
    llm: str | None = None               # generator name (None = extractive answers): see `seedrag llm list`
    llm_model: str | None = None         # llama-cpp: a .gguf path; openai: the model id (None = the server's first)
    llm_base_url: str | None = None      # openai: e.g. http://127.0.0.1:8000/v1
    llm_api_key: str | None = None       # openai: sent as "Authorization: Bearer <key>"
    llm_models_dir: str | None = None    # where `seedrag llm install` puts models (None = ~/.cache/seedrag/models)
    llm_ctx: int = 4096                  # llama-cpp context window, in the model's tokens
    llm_threads: int = 2                 # llama-cpp CPU threads
    llm_max_tokens: int = 256            # answer length limit
    llm_budget_tokens: int = 1500        # cl100k tokens of passages in the prompt
    llm_timeout: float = 120.0           # openai: seconds per request
    llm_fallback: str = "extractive"     # when the LLM answer is rejected: "extractive" answer or "refuse"
    llm_verify: bool = False             # ask the LLM first whether the best passage states the answer ("no": refuse)
    host: str = "127.0.0.1"
    port: int = 7860
    api_token: str | None = None         # when set, /api/v1/* requires "Authorization: Bearer <token>"
    max_upload_mb: float = 20.0
    max_file_mb: float = 50.0            # larger files are skipped by indexing, with this limit named
    answer_workers: int = 0              # questions answered at once by the server (0 = one per CPU core)
    answer_queue: int = 32               # more questions may wait; beyond that the server answers 503 (busy)

    def __post_init__(self) -> None:
        check_chunk_settings(self.chunk_tokens, self.chunk_overlap)
        if self.k <= 0:
            raise ConfigError(f"k must be greater than 0. Currently, k is {self.k}.")
        check_backend(self.embedding_backend)
        if self.fusion not in FUSIONS:
            raise ConfigError(f"fusion must be one of {', '.join(map(repr, FUSIONS))}. "
                              f"Currently, fusion is {self.fusion!r}.")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ConfigError(f"dense_weight must be between 0 and 1. Currently, it is {self.dense_weight}.")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port must be between 1 and 65535. Currently, port is {self.port}.")
        if self.llm_ctx < 256:
            raise ConfigError(f"llm_ctx must be at least 256 tokens. Currently, it is {self.llm_ctx}.")
        if not 0 < self.llm_budget_tokens < self.llm_ctx:
            raise ConfigError(f"llm_budget_tokens must be between 1 and llm_ctx ({self.llm_ctx}). "
                              f"Currently, it is {self.llm_budget_tokens}.")
        if self.llm_threads < 1 or self.llm_max_tokens < 1 or self.llm_timeout <= 0:
            raise ConfigError(f"llm_threads, llm_max_tokens and llm_timeout must be positive. Currently: "
                              f"{self.llm_threads}, {self.llm_max_tokens}, {self.llm_timeout}.")
        if self.llm_fallback not in ("extractive", "refuse"):
            raise ConfigError(f"llm_fallback must be 'extractive' or 'refuse'. Currently, it is {self.llm_fallback!r}.")
        if self.max_upload_mb <= 0 or self.max_file_mb <= 0:
            raise ConfigError(f"max_upload_mb and max_file_mb must be positive. Currently: {self.max_upload_mb}, "
                              f"{self.max_file_mb}.")
        if self.answer_workers < 0 or self.answer_queue < 0:
            raise ConfigError(f"answer_workers and answer_queue must be 0 or more. Currently: {self.answer_workers}, "
                              f"{self.answer_queue}.")

    @property
    def store_location(self) -> str:
        return self.store or self.index_dir

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes`; unknown keys are rejected with the list of known ones."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(
                f"Unknown setting(s) {', '.join(sorted(unknown))}. Known: {', '.join(f.name for f in fields(self))}."
            )
        return dataclasses.replace(self, **changes)

    def embedder(self, built_with: str | None = None) -> Embedder:
        """The embedder these settings name (model, backend, ONNX cache), not loaded until first used;
        `built_with`: the embedder name an existing index records (what "auto" follows)."""
        return make_embedder(self.embedding_model, self.embedding_backend, self.onnx_cache, built_with)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from SEEDRAG_* variables (e.g. SEEDRAG_INDEX_DIR, SEEDRAG_K), then `overrides`."""
        env = os.environ if env is None else env
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in env.items():
            if not key.startswith(PREFIX) or key in NOT_SETTINGS:
                continue
            name = key[len(PREFIX):].lower()
            if name not in known:
                raise ConfigError(
                    f"Unknown environment variable {key}. Known: "
                    f"{', '.join(PREFIX + n.upper() for n in known)}."
                )
            values[name] = _parse(name, raw, known[name].type)
        # an override of None means "not given" (an unset CLI flag), not "reset to None"
        return cls().replace(**values).replace(**{k: v for k, v in overrides.items() if v is not None})


def _parse(name: str, raw: str, kind: Any) -> Any:
    text = str(kind)
    if not raw.strip():
        if "None" in text:
            return None  # empty: "not set" for an optional setting
        raise ConfigError(f"{PREFIX}{name.upper()} is empty. Give it a value ({text}) or unset it.")
    if text == "bool":
        flag = raw.strip().lower()
        if flag in ("1", "true", "yes", "on"):
            return True
        if flag in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{PREFIX}{name.upper()} must be 1 or 0 (true/false). Currently, it is {raw!r}.")
    try:
        if "int" in text and "float" not in text:
            return int(raw)
        if "float" in text:
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}{name.upper()} must be a number. Currently, it is {raw!r}.") from exc
    return raw
