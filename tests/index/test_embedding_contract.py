"""The Embedder contract (index/testing.py) on every shipped embedder: the ONNX int8 default, ONNX fp32 and torch,
and the deterministic HashEmbedder the pure-logic tests may use."""

from __future__ import annotations

import pytest

from index.testing import EmbedderContract, HashEmbedder


@pytest.fixture(scope="module", params=["onnx-int8", "onnx", "torch", "hash"])
def shipped(request, embedder, torch_embedder):
    from index.embedding import make_embedder

    if request.param == "onnx-int8":
        return embedder  # the session's default embedder
    if request.param == "torch":
        return torch_embedder
    if request.param == "hash":
        return HashEmbedder()
    return make_embedder("all-MiniLM-L6-v2", "onnx")


class TestEmbedderContract(EmbedderContract):
    @pytest.fixture
    def embedder_under_test(self, shipped):
        return shipped


def test_the_hash_embedder_is_the_same_everywhere():
    a, b = HashEmbedder(), HashEmbedder()
    text = ["Barges carried grain and coal downstream."]
    assert (a.embed_documents(text) == b.embed_documents(text)).all() and a.name == "hash-64"
