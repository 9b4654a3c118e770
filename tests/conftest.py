"""Shared fixtures: the real embedding model (loaded once) and a real index of the seed article."""

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
