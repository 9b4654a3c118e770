"""Named evaluation suites. Each module has `run(settings, quick, full, limit, embedder) -> Report`.

The suites build throw-away indexes (`eval.scratch`): a temporary FAISS folder, or a schema of their own
when `settings.store` is a PostgreSQL URL. The answer mode (extractive, or an LLM) comes from `settings`.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from index.errors import ConfigError

SUITES = {
    "seed": "eval.suites.seed",
    "docs": "eval.suites.docs",
    "conversation": "eval.suites.conversation",
    "squad": "eval.suites.squad",
    "squad2": "eval.suites.squad2",
    "scifact": "eval.suites.scifact",
    "calibrate": "eval.suites.calibrate",
    "pgvector": "eval.suites.pgvector",
    "scale": "eval.suites.scale",
}

RETRIEVAL_ONLY = {"scifact": "retrieval", "calibrate": "the extractive support the refusal gate compares",
                  "pgvector": "the vector index", "scale": "the vector index and BM25"}


def run_suite(name: str, settings: Any, quick: bool = False, full: bool = False, out: str = "eval/out",
              limit: int | None = None, embedding_cache: str | None = None) -> int:
    """Run suite `name`, write its report under `out`/`name`, print the summary. `embedding_cache`: a folder
    where document embeddings are kept between runs (`eval.embcache`)."""
    if name not in SUITES:
        raise ConfigError(f"Unknown suite {name!r}. Known suites: {', '.join(SUITES)}.")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}: give a positive number of questions.")
    module = importlib.import_module(SUITES[name])
    if settings.llm and name in RETRIEVAL_ONLY:
        print(f"note: the {name} suite measures {RETRIEVAL_ONLY[name]}, not generated answers: "
              f"--llm {settings.llm} is not used (the seed, squad and squad2 suites use it)", file=sys.stderr)
    embedder = None
    if embedding_cache is not None:
        from eval.embcache import CachedEmbedder

        embedder = CachedEmbedder(settings.embedder(), embedding_cache)
    try:
        report = module.run(settings, quick=quick, full=full, limit=limit, embedder=embedder)
    finally:
        if embedder is not None:
            embedder.close()
    if embedder is not None:
        report.summary["embedding_cache (documents from cache / embedded; build speed is not the model's)"] = (
            f"{embedder.hits} / {embedder.misses}")
    folder = Path(out) / name
    path = report.write(folder)
    from eval.report import fmt

    width = max(len(k) for k in report.summary)
    for key, value in report.summary.items():
        print(f"{key:<{width}}  {fmt(value)}")
    print(f"report: {path}", file=sys.stderr)
    return 0
