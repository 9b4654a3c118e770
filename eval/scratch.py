"""Where a suite builds its throw-away index: a temporary FAISS folder, or, when the settings name a
PostgreSQL store (`seedrag eval ... --store postgresql://...`), a schema of its own in that database.

A suite never writes into the user's index: on PostgreSQL it uses the schema `seedrag_eval_<suite>`
(created if missing, emptied at the start of the run, dropped at the end), selected through the
connection's `search_path`, so the tables of the real index in `public` are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from index.errors import ConfigError
from index.stores import is_postgres


def with_search_path(url: str, schema: str) -> str:
    """`url` with `options=-c search_path=<schema>,public` (pgvector's type lives in `public`)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema},public"))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


@dataclass
class Scratch:
    """A suite's throw-away index: `location` (folder or URL), `settings` for a RAG over it, `open()` a store."""

    location: str
    settings: Any
    stores: list[Any] = field(default_factory=list)

    def open(self) -> Any:
        """A fresh (emptied) store at `location`, closed when the scratch index goes away."""
        from index.stores import open_store

        store = open_store(self.location, create=True, fresh=True)
        self.stores.append(store)
        return store

    def build(self, paths: list[Any], embedder: Any = None, generator: Any = None) -> tuple[Any, Any]:
        """(a RAG over a fresh store here, the report of indexing `paths` into it): document vectors from the
        embedding cache when `embedder` is one (`eval.embcache`), a progress bar on stderr."""
        from eval.embcache import caching
        from eval.progress import embedding_bar
        from rag.engine import RAG

        rag = RAG(self.open(), embedder=embedder, settings=self.settings, generator=generator)
        with caching(rag.embedder):
            report = rag.index(paths, progress=embedding_bar())
        return rag, report

    def close(self) -> None:
        for store in self.stores:
            store.close()
        self.stores.clear()


@contextmanager
def scratch_index(settings: Any, name: str, tmp: str | Path) -> Iterator[Scratch]:
    """An empty index for suite `name`, removed afterwards with every store opened on it."""
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"suite name {name!r}: use [a-z0-9_]")
    if not is_postgres(settings.store):
        where = str(Path(tmp) / f"{name}-index")
        scratch = Scratch(where, settings.replace(index_dir=where, store=None))
        try:
            yield scratch
        finally:
            scratch.close()
        return
    schema = f"seedrag_eval_{name}"
    _execute(settings.store, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
    where = with_search_path(settings.store, schema)
    scratch = Scratch(where, settings.replace(store=where))
    try:
        yield scratch
    finally:
        scratch.close()
        _execute(settings.store, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _execute(url: str, sql: str) -> None:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the [pg] extra is missing
        raise ConfigError("PostgreSQL stores need the pg extra: pip install 'seedrag[pg]'") from exc
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"Cannot prepare the evaluation schema in {urlsplit(url).hostname}: {first}. "
                          "The evaluation needs a role that may CREATE SCHEMA in that database.") from exc


def store_kind(settings: Any) -> str:
    """'postgresql' or 'faiss': the store a suite ran on, for its report."""
    return "postgresql" if is_postgres(settings.store) else "faiss"
