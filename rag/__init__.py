"""seedrag's public Python API.

    from rag import RAG
    rag = RAG.open(".seedrag")
    answer = rag.ask("What is the range of the ATACMS missile?")

The names are loaded on first use (PEP 562), so `import ui.cli` (the `seedrag` command) does not pay
for the engine, numpy or the models until a command needs them.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from index.build import BuildReport
    from index.documents import Document
    from index.embedding import Embedder, SentenceTransformerEmbedder
    from index.stores.base import Store
    from rag.citations import Citation, Highlight
    from rag.engine import RAG, Answer
    from rag.errors import ConfigError, IndexMismatchError, IndexNotFoundError, SeedragError
    from rag.reader import Reader
    from rag.rerank import CrossEncoderReranker, Reranker
    from rag.retrieve import Hit
    from rag.settings import Settings

_EXPORTS = {
    "RAG": "rag.engine",
    "Answer": "rag.engine",
    "BuildReport": "index.build",
    "Citation": "rag.citations",
    "ConfigError": "rag.errors",
    "CrossEncoderReranker": "rag.rerank",
    "Document": "index.documents",
    "Embedder": "index.embedding",
    "Highlight": "rag.citations",
    "Hit": "rag.retrieve",
    "IndexMismatchError": "rag.errors",
    "IndexNotFoundError": "rag.errors",
    "Reader": "rag.reader",
    "Reranker": "rag.rerank",
    "SeedragError": "rag.errors",
    "SentenceTransformerEmbedder": "index.embedding",
    "Settings": "rag.settings",
    "Store": "index.stores.base",
}
__all__ = [
    "RAG",
    "Answer",
    "BuildReport",
    "Citation",
    "ConfigError",
    "CrossEncoderReranker",
    "Document",
    "Embedder",
    "Highlight",
    "Hit",
    "IndexMismatchError",
    "IndexNotFoundError",
    "Reader",
    "Reranker",
    "SeedragError",
    "SentenceTransformerEmbedder",
    "Settings",
    "Store",
]


def __getattr__(name: str) -> _typing.Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(_importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
