"""One embedding cache for the evaluation tests: the suites' quick runs index overlapping passages (the same
SQuAD 2.0 articles, the seed article, the real-documents files), embedded once for the package. The cache serves
the model's own vectors (tests/eval/test_embcache.py), so what the tests check of the suites is unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="package")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache folder; CLI runs take it as --embedding-cache."""
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture(scope="package")
def cached_embedder(embedder: Any, embedding_cache: Path) -> Any:
    """The real model behind the evaluation embedding cache: the PostgreSQL run reuses the FAISS run's vectors."""
    from eval.embcache import CachedEmbedder

    return CachedEmbedder(embedder, embedding_cache)


@pytest.fixture(scope="package")
def settings() -> Any:
    from rag.settings import Settings

    return Settings()


@pytest.fixture(scope="package")
def quick_report(cached_embedder: Any, settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`quick_report("scifact")`: that suite's quick run on the cached embedder, written to a folder of its own:
    (report, folder)."""
    import importlib

    def run(suite: str) -> tuple[Any, Path]:
        report = importlib.import_module(f"eval.suites.{suite}").run(settings, quick=True, embedder=cached_embedder)
        out = tmp_path_factory.mktemp(suite)
        report.write(out)
        return report, out

    return run
