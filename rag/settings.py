"""One frozen settings object. Environment variables (SEEDRAG_*) are read only by `Settings.from_env`.

Every field is typed, and the type is the whole contract: `from_env` parses each variable by its field's type
(int, float, bool, an optional one, or one of a `Literal`'s values) and `__post_init__` refuses a value outside a
`Literal`, naming the setting and the accepted values.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from index.chunking import check_chunk_settings
from index.embedding import DEFAULT_MODEL, Embedder, EmbeddingBackend, make_embedder
from index.errors import ConfigError

PREFIX = "SEEDRAG_"
# read by other edges, not settings of the engine: the benchmark data folder
NOT_SETTINGS = frozenset({"SEEDRAG_DATA_DIR"})

MAX_QUESTION_CHARS = 4000  # a question or query longer than this is refused on every path (engine, REST, chat)
Fusion = Literal["mix", "rrf", "weighted"]  # see rag.retrieve.fuse
FUSIONS: tuple[str, ...] = get_args(Fusion)
LlmFallback = Literal["extractive", "refuse"]
SECRETS = frozenset({"api_token", "llm_api_key"})  # shown as "(set)" by `seedrag settings`, never printed

# every field in exactly one section (a test keeps it so): what `seedrag settings` and the README group by
SECTIONS: dict[str, tuple[str, ...]] = {
    "store": ("index_dir", "store", "docs_dir", "max_file_mb"),
    "embedding": ("embedding_model", "embedding_backend", "onnx_cache", "chunk_tokens", "chunk_overlap"),
    "engine": ("k", "fusion", "dense_weight", "refusal_threshold", "reranker"),
    "llm": ("llm", "llm_model", "llm_base_url", "llm_api_key", "llm_models_dir", "llm_ctx", "llm_threads",
            "llm_max_tokens", "llm_budget_tokens", "llm_timeout", "llm_fallback", "llm_verify"),
    "server": ("host", "port", "api_token", "max_upload_mb", "answer_workers", "answer_queue"),
}


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
    embedding_backend: EmbeddingBackend = "auto"  # "auto" (index.embedding.choose_backend), "torch", "onnx", ...
    onnx_cache: str | None = None        # where ONNX exports of the model are kept (None = ~/.cache/seedrag/onnx)
    chunk_tokens: int = 200              # cl100k tokens per chunk
    chunk_overlap: int = 40
    k: int = 5                           # passages retrieved per question
    fusion: Fusion = "mix"               # "mix" (min-max normalised scores), "rrf" (reciprocal rank), "weighted"
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
    llm_fallback: LlmFallback = "extractive"  # when the LLM answer is rejected: "extractive" answer or "refuse"
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
        for name, choices in _choices().items():
            value = getattr(self, name)
            if value not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}. "
                                  f"Currently, {name} is {value!r}.")
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
        if self.max_upload_mb <= 0 or self.max_file_mb <= 0:
            raise ConfigError(f"max_upload_mb and max_file_mb must be positive. Currently: {self.max_upload_mb}, "
                              f"{self.max_file_mb}.")
        if self.answer_workers < 0 or self.answer_queue < 0:
            raise ConfigError(f"answer_workers and answer_queue must be 0 or more. Currently: {self.answer_workers}, "
                              f"{self.answer_queue}.")

    def section(self, name: str) -> dict[str, Any]:
        """The settings of one section of SECTIONS ("store", "embedding", "engine", "llm", "server") by name.

        >>> Settings(port=8000).section("server")["port"]
        8000
        """
        if name not in SECTIONS:
            raise ConfigError(f"Unknown settings section {name!r}. Known: {', '.join(SECTIONS)}.")
        return {field: getattr(self, field) for field in SECTIONS[name]}

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
            values[name] = _parse(name, raw, _hints()[name])
        # an override of None means "not given" (an unset CLI flag), not "reset to None"
        return cls().replace(**values).replace(**{k: v for k, v in overrides.items() if v is not None})


@cache
def _hints() -> dict[str, Any]:
    """Each field's type, resolved (the annotations are strings under `from __future__ import annotations`)."""
    return get_type_hints(Settings)


@cache
def _choices() -> dict[str, tuple[Any, ...]]:
    """The fields whose type is a Literal (or an optional one), with their accepted values."""
    out = {}
    for name, hint in _hints().items():
        base, _ = _base(hint)
        if get_origin(base) is Literal:
            out[name] = get_args(base)
    return out


def _base(hint: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    if get_origin(hint) is Union or type(hint).__name__ == "UnionType":
        args = [a for a in get_args(hint) if a is not type(None)]
        return (args[0] if len(args) == 1 else hint), len(args) < len(get_args(hint))
    return hint, False


def _parse(name: str, raw: str, hint: Any) -> Any:
    """The value of SEEDRAG_<NAME>=raw for a field of type `hint`, or a one-line ConfigError naming the variable
    and what it accepts."""
    var = f"{PREFIX}{name.upper()}"
    base, optional = _base(hint)
    if not raw.strip():
        if optional:
            return None  # empty: "not set" for an optional setting
        kind = base.__name__ if isinstance(base, type) else "one of " + ", ".join(map(str, get_args(base)))
        raise ConfigError(f"{var} is empty. Give it a value ({kind}) or unset it.")
    if base is bool:
        flag = raw.strip().lower()
        if flag in ("1", "true", "yes", "on"):
            return True
        if flag in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{var} must be 1 or 0 (true/false). Currently, it is {raw!r}.")
    if base in (int, float):
        try:
            return base(raw)
        except ValueError as exc:
            kind = "a whole number" if base is int else "a number"
            raise ConfigError(f"{var} must be {kind}. Currently, it is {raw!r}.") from exc
    if get_origin(base) is Literal and raw.strip() not in get_args(base):
        raise ConfigError(f"{var} must be one of {', '.join(map(repr, get_args(base)))}. Currently, it is {raw!r}.")
    return raw.strip() if get_origin(base) is Literal else raw
