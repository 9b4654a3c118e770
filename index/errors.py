"""The error hierarchy of seedrag. `rag.errors` re-exports it; `index` may not import `rag`.

    SeedragError                 base: every error seedrag raises on purpose
    ├── ConfigError              a setting or argument is wrong (bad value, unknown key)
    ├── DocumentError            one file cannot be read (binary, undecodable, empty, corrupt)
    ├── IndexNotFoundError       no index where one was expected
    ├── IndexMismatchError       the index was built with another model, dimension or format
    ├── StoreError               the storage backend failed (disk, database)
    └── GeneratorError           an LLM backend failed or is misconfigured

Every message names the problem and the fix.
"""


class SeedragError(Exception):
    """Base class of every error seedrag raises on purpose."""


class ConfigError(SeedragError):
    """A setting or argument has a bad value."""


class DocumentError(SeedragError):
    """A document cannot be loaded; the message says why."""


class IndexNotFoundError(SeedragError):
    """No index exists at the given place."""


class IndexMismatchError(SeedragError):
    """The index on disk does not match the current settings (model, dimension, format)."""


class StoreError(SeedragError):
    """The storage backend failed."""


class GeneratorError(SeedragError):
    """An answer generator (LLM backend) failed or is misconfigured."""
