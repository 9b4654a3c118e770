"""Stores: where chunks, vectors and the manifest live. One contract (`base.Store`), several backends."""

from index.stores.base import Store, StoredDocument

__all__ = ["Store", "StoredDocument", "open_store"]


def open_store(location: str, create: bool = True) -> Store:
    """Open the store at `location`: a PostgreSQL URL, or else a folder for the FAISS store."""
    if location.startswith(("postgresql://", "postgres://")):
        from index.stores.postgres import PostgresStore

        return PostgresStore(location)
    from index.stores.faiss import FaissStore

    return FaissStore(location, create=create)
