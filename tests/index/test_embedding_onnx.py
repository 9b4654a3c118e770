"""The ONNX Runtime embedder against the real torch model: an export made here from the packaged folder."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from index.errors import ConfigError, IndexMismatchError
from index.stores.faiss import FaissStore
from tests.conftest import SEED_FILE, SEEDS

TEXT = SEED_FILE.read_text(encoding="utf-8")
PARAGRAPHS = [p for p in TEXT.split("\n") if len(p) > 80]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def fp32(onnx_cache):
    from index.embedding_onnx import OnnxEmbedder

    return OnnxEmbedder(precision="fp32", cache_dir=onnx_cache)


@pytest.fixture(scope="module")
def int8(onnx_cache, fp32):
    from index.embedding_onnx import OnnxEmbedder

    fp32.model_file()  # export once; int8 quantises that file
    return OnnxEmbedder(precision="int8", cache_dir=onnx_cache)


def test_fp32_gives_the_torch_vectors_documents_queries_and_spans(fp32, torch_embedder):
    texts = PARAGRAPHS[:6]
    assert np.abs(fp32.embed_documents(texts) - torch_embedder.embed_documents(texts)).max() < 1e-4
    query = ["What is ATACMS?"]
    assert np.abs(fp32.embed_queries(query) - torch_embedder.embed_queries(query)).max() < 1e-4
    spans = [[(0, 40), (40, len(t))] for t in texts]
    ours = fp32.embed_documents_and_spans(texts, spans)
    theirs = torch_embedder.embed_documents_and_spans(texts, spans)
    assert np.abs(ours[0] - theirs[0]).max() < 1e-4
    assert max(float(np.abs(a - b).max()) for a, b in zip(ours[1], theirs[1], strict=True)) < 1e-4
    assert fp32.name == torch_embedder.name and fp32.dimension == torch_embedder.dimension == 384
    long = " ".join(PARAGRAPHS)  # far beyond 256 word pieces
    assert fp32.fits([PARAGRAPHS[0], long]) == torch_embedder.fits([PARAGRAPHS[0], long]) == [True, False]


def test_int8_is_close_named_apart_and_the_same_in_any_company(int8, torch_embedder):
    texts = PARAGRAPHS[:8]
    ours = int8.embed_documents(texts)
    cosine = (ours * torch_embedder.embed_documents(texts)).sum(axis=1)
    assert cosine.min() > 0.98, cosine  # per-channel int8; per-tensor int8 gives ~0.90-0.94 here
    assert not np.allclose(ours, torch_embedder.embed_documents(texts), atol=1e-4)  # really another model
    assert int8.name.endswith("+onnx-int8") and int8.name != torch_embedder.name
    alone = int8.embed_documents([texts[0]])
    beside = int8.embed_documents([texts[0], " ".join(PARAGRAPHS)])[:1]
    assert np.array_equal(alone, beside)  # activations are scaled per call: each text runs alone


def test_the_export_is_cached_and_a_damaged_one_is_named(fp32, onnx_cache, tmp_path):
    from index.embedding_onnx import OnnxEmbedder

    path = fp32.model_file()
    assert path.is_relative_to(onnx_cache) and path.stat().st_size > 10_000_000
    stamp = path.stat().st_mtime_ns
    assert OnnxEmbedder(cache_dir=onnx_cache).model_file().stat().st_mtime_ns == stamp  # not exported again
    assert not list(onnx_cache.rglob("*.tmp"))
    broken = tmp_path / "cache"
    shutil.copytree(path.parent, broken / path.parent.name)
    (broken / path.parent.name / path.name).write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="Delete that folder"):
        OnnxEmbedder(cache_dir=broken).embed_queries(["x"])


def test_an_unknown_backend_lists_the_known_ones():
    from index.embedding import make_embedder
    from rag.settings import Settings

    with pytest.raises(ConfigError, match="'auto', 'torch', 'onnx', 'onnx-int8'"):
        Settings(embedding_backend="gpu")
    with pytest.raises(ConfigError, match="onnx-int8"):
        make_embedder(backend="tensorrt")


def test_an_int8_index_answers_and_refuses_another_backend_by_name(int8, tmp_path, torch_embedder):
    from rag.engine import RAG

    rag = RAG(FaissStore(tmp_path / "index"), embedder=int8)
    rag.index([SEEDS])
    answer = rag.ask("What is the range of the ATACMS missile?")
    assert "190 miles" in answer.text and answer.citations
    with pytest.raises(IndexMismatchError, match="SEEDRAG_EMBEDDING_BACKEND=onnx-int8"):
        RAG(FaissStore(tmp_path / "index"), embedder=torch_embedder)


def test_auto_is_int8_for_a_new_index_and_follows_an_existing_one():
    from index.embedding import choose_backend

    assert choose_backend("all-MiniLM-L6-v2") == "onnx-int8"  # a new index
    assert choose_backend("all-MiniLM-L6-v2", built_with="all-MiniLM-L6-v2+onnx-int8") == "onnx-int8"
    assert choose_backend("all-MiniLM-L6-v2", built_with="all-MiniLM-L6-v2") == "onnx"  # torch's vectors
    assert choose_backend("/models/my-st-folder") == "torch"  # the export is made for the packaged model
    assert choose_backend("all-MiniLM-L6-v2", "torch", "all-MiniLM-L6-v2+onnx-int8") == "torch"  # as set


def test_an_index_built_with_torch_opens_with_the_default_settings_and_a_rebuild_moves_it_to_int8(
        tmp_path, torch_embedder, onnx_cache, int8):
    from index.embedding_onnx import OnnxEmbedder
    from rag.engine import RAG
    from rag.settings import Settings

    docs = tmp_path / "docs"
    shutil.copytree(SEEDS, docs)
    RAG(FaissStore(tmp_path / "index"), embedder=torch_embedder).index([docs])  # as indexes were built before
    settings = Settings(index_dir=str(tmp_path / "index"), onnx_cache=str(onnx_cache))
    old = RAG.open(settings=settings)
    assert isinstance(old.embedder, OnnxEmbedder) and old.embedder.precision == "fp32"
    assert "190 miles" in old.ask("What is the range of the ATACMS missile?").text
    rebuilt = RAG.build([docs], settings=settings, rebuild=True)
    assert rebuilt.embedder.name.endswith("+onnx-int8")
    assert RAG.open(settings=settings).store.manifest().embedding_model == rebuilt.embedder.name
