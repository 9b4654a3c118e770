"""Errors of the public API. The hierarchy lives in `index.errors` (index may not import rag):

    SeedragError
    ├── ConfigError, DocumentError, IndexNotFoundError, IndexMismatchError, StoreError, GeneratorError
"""

from index.errors import (
    ConfigError,
    DocumentError,
    GeneratorError,
    IndexMismatchError,
    IndexNotFoundError,
    SeedragError,
    StoreError,
)

__all__ = [
    "ConfigError",
    "DocumentError",
    "GeneratorError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "SeedragError",
    "StoreError",
]
