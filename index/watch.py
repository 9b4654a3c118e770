"""Settled changes of the documents under some paths (watchfiles: inotify on Linux, FSEvents on macOS), for
`seedrag index --watch`.

`changes(paths)` yields one batch per burst of file activity, once nothing has changed for `settle_ms` (a file
being copied or saved in pieces is reported once, when it stands still) or at most `max_ms` after the burst
began. Only what the build would index counts: supported document types, no hidden files or folders (an
upload's `.upload-*` staging file, an editor's swap file), and deletions of any supported name.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from index.documents import SUPPORTED_SUFFIXES

SETTLE_MS = 500   # quiet time before a batch is reported
MAX_MS = 5000     # a batch is reported at the latest this long after its first change


@dataclass(frozen=True)
class Change:
    kind: str   # "added", "modified" or "deleted"
    path: Path


def is_document(path: str | Path, roots: Iterable[Path]) -> bool:
    """A path the index build would read: a supported suffix, and no hidden part below its (resolved) root."""
    p = Path(path)
    if p.suffix.lower() not in SUPPORTED_SUFFIXES:
        return False
    for root in roots:
        if p == root:
            return True
        try:
            rest = p.relative_to(root).parts
        except ValueError:
            continue
        return not any(part.startswith(".") for part in rest)
    return False


def changes(paths: Iterable[str | Path], stop: threading.Event | None = None, settle_ms: int = SETTLE_MS,
            max_ms: int = MAX_MS) -> Iterator[list[Change]]:
    """Batches of settled document changes under `paths` (files or folders), sorted by path, until `stop`
    is set (or forever). A path's kind is what it is now against what was there when watching began or at the
    last batch: deleted when gone, added when new, else modified."""
    import watchfiles

    roots = [Path(p).resolve() for p in paths]
    known = {f for root in roots for f in ([root] if root.is_file() else root.rglob("*"))
             if f.is_file() and is_document(f, roots)}

    def wanted(change: watchfiles.Change, path: str) -> bool:
        return is_document(path, roots)

    for batch in watchfiles.watch(*roots, watch_filter=wanted, debounce=max_ms, step=settle_ms, stop_event=stop,
                                  raise_interrupt=False):
        out = []
        for p in sorted({Path(path) for _, path in batch}):
            if p.is_file():
                out.append(Change("modified" if p in known else "added", p))
                known.add(p)
            elif p in known:
                out.append(Change("deleted", p))
                known.discard(p)
        if out:
            yield out
