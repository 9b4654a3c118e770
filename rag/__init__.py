"""seedrag's public Python API.

    from rag import RAG
    rag = RAG.open(".seedrag")
    answer = rag.ask("What is the range of the ATACMS missile?")
"""

from index.build import BuildReport
from index.documents import Document
from index.embedding import Embedder, SentenceTransformerEmbedder
from index.stores.base import Store
from rag.citations import Citation
from rag.engine import RAG, Answer
from rag.errors import ConfigError, IndexMismatchError, IndexNotFoundError, SeedragError
from rag.rerank import CrossEncoderReranker, Reranker
from rag.retrieve import Hit
from rag.settings import Settings

__all__ = [
    "RAG",
    "Answer",
    "BuildReport",
    "Citation",
    "ConfigError",
    "CrossEncoderReranker",
    "Document",
    "Embedder",
    "Hit",
    "IndexMismatchError",
    "IndexNotFoundError",
    "Reranker",
    "SeedragError",
    "SentenceTransformerEmbedder",
    "Settings",
    "Store",
]
