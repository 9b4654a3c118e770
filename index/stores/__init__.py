"""Stores: where chunks, vectors and the manifest live. One contract (`base.Store`), several backends."""

from index.stores.base import Store, StoredDocument

__all__ = ["Store", "StoredDocument", "is_postgres", "open_store"]


def is_postgres(location: str | None) -> bool:
    """Whether `location` is a PostgreSQL URL (else a FAISS folder)."""
    return bool(location) and str(location).startswith(("postgresql://", "postgres://"))


def open_store(location: str, create: bool = True, fresh: bool = False) -> Store:
    """Open the store at `location`: a PostgreSQL URL, or else a folder for the FAISS store.

    `fresh=True` starts from an empty store (a rebuild); the old contents stay until the first write.
    """
    if is_postgres(location):
        from index.stores.postgres import PostgresStore

        return PostgresStore(location, create=create, fresh=fresh)
    from index.stores.faiss import FaissStore

    return FaissStore(location, create=create, fresh=fresh)
