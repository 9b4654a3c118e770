"""Progress bars for the suites (tqdm on stderr, so the summary on stdout stays clean)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def steps(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """`items`, with a bar counting them."""
    from tqdm import tqdm

    yield from tqdm(items, desc=desc, total=total, unit="q", file=sys.stderr, leave=False, dynamic_ncols=True)


def embedding_bar(desc: str = "embedding") -> Callable[[int, int], None]:
    """A `progress(done, total)` callback for `RAG.index`, drawing a bar of chunks embedded."""
    from tqdm import tqdm

    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit="chunk", file=sys.stderr, leave=False, dynamic_ncols=True)
        bar.total = total  # an estimate until the documents are all chunked
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress
