"""Incremental build: find files → diff by content hash → load → chunk → embed (batched) → one atomic write."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.chunking import Chunk, check_chunk_settings, chunk_document
from index.documents import (
    LOADERS_VERSION,
    SUPPORTED_SUFFIXES,
    Document,
    content_hash,
    load_document,
    unsupported_message,
)
from index.embedding import Embedder, embed_with_spans
from index.errors import ConfigError, DocumentError, IndexMismatchError
from index.manifest import Manifest
from index.sentences import clip, split_sentences
from index.stores.base import SentenceVectors, Store, StoredDocument

Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed: an estimate until the last call)
EMBED_BATCH = 64


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class BuildReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0  # chunking + embedding only (no model load, no write)
    skipped: tuple[Skipped, ...] = field(default=())

    def counts(self) -> dict[str, int]:
        """The `seedrag index --json` object."""
        return {"added": self.added, "updated": self.updated, "removed": self.removed,
                "unchanged": self.unchanged, "chunks": self.chunks}


def source_name(path: Path, root: Path) -> str:
    """The name a file is indexed under: relative to `root` when inside it, else absolute. A symbolic link
    inside `root` is named where it is, not where it points, so removing the link prunes its document."""
    here = Path(os.path.abspath(path))
    try:
        return here.relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        pass
    try:  # `root` reached through a symbolic link of its own
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return here.as_posix()


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[Skipped]]:
    """Supported files under `paths` (recursively, hidden files skipped), and files skipped by type."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise ConfigError(f"{p} does not exist. Give a file or folder of documents, e.g. seedrag index seeds/")
        listed = [p] if p.is_file() else sorted(
            f for f in p.rglob("*") if not any(part.startswith(".") for part in f.relative_to(p).parts))
        candidates = []
        for f in listed:
            if f.is_file():
                candidates.append(f)
            elif f.is_symlink() and not f.exists() and f.suffix.lower() in SUPPORTED_SUFFIXES:
                skipped.append(Skipped(str(f), "a symbolic link that leads to no file (dangling, or a loop): "
                                               "point it at a document or remove it"))
        for f in candidates:
            if f.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(f)
            elif p.is_file():
                skipped.append(Skipped(str(f), unsupported_message(f.suffix.lower())))
    return sorted(set(files)), skipped


def build_index(
    paths: Sequence[str | Path],
    store: Store,
    embedder: Embedder,
    *,
    chunk_tokens: int = 200,
    chunk_overlap: int = 40,
    root: Path | None = None,
    rebuild: bool = False,
    prune: bool = True,
    progress: Progress | None = None,
    extra: dict[str, Any] | None = None,
    max_file_bytes: int | None = None,
) -> BuildReport:
    """Bring `store` up to date with the files under `paths`; embed only new or changed files.

    Files indexed before from under `paths` that are gone are removed (`prune`). A file that cannot be
    read, or is larger than `max_file_bytes`, is skipped with its reason, and its previously indexed version,
    if any, is kept.
    """
    started = time.perf_counter()
    check_chunk_settings(chunk_tokens, chunk_overlap)
    root = root or Path.cwd()
    files, skipped = discover(paths)
    old = store.manifest()
    if old is not None and not rebuild:
        old.check_compatible(embedder.name)
        if (old.chunk_tokens, old.chunk_overlap) != (chunk_tokens, chunk_overlap):
            raise IndexMismatchError(
                f"The index was chunked with chunk_tokens={old.chunk_tokens}, chunk_overlap={old.chunk_overlap}; "
                f"the settings now say {chunk_tokens}/{chunk_overlap}. Rebuild: seedrag index --rebuild"
            )
    known = {} if old is None or rebuild else dict(old.files)
    # the loaders changed, or the index predates stored sentence vectors: read and embed every file again
    reread = old is not None and (old.loaders != LOADERS_VERSION or not old.sentence_vectors)

    docs, seen, unchanged = _changed_documents(files, root, known, reread, max_file_bytes, skipped)
    scopes = [source_name(Path(p), root) for p in paths]
    removals = [s for s in known if s not in seen and _under(s, scopes)] if prune else []
    if rebuild and old is not None:
        removals = [s for s in old.files if s not in {d.source for d, _ in docs}]

    if docs:
        embedder.embed_queries(["load the model before the clock starts"])
    embed_started = time.perf_counter()
    upserts = _embed(docs, embedder, chunk_tokens, chunk_overlap, progress)
    embed_seconds = time.perf_counter() - embed_started
    embedded = sum(len(u.chunks) for u in upserts)
    if upserts or removals or old is None or rebuild or reread:
        manifest = Manifest(
            embedding_model=embedder.name, dimension=embedder.dimension, chunk_tokens=chunk_tokens,
            chunk_overlap=chunk_overlap, extra={**(old.extra if old else {}), **(extra or {})},
            loaders=LOADERS_VERSION, sentence_vectors=True,
        )
        store.apply(upserts, removals, manifest)
    added = sum(1 for _, new in docs if new)
    return BuildReport(
        added=added,
        updated=len(docs) - added,
        removed=len(removals),
        unchanged=unchanged,
        chunks=store.chunk_count(),
        embedded=embedded,
        seconds=time.perf_counter() - started,
        embed_seconds=embed_seconds,
        skipped=tuple(skipped),
    )


def _changed_documents(files: Sequence[Path], root: Path, known: dict[str, str], reread: bool,
                       max_file_bytes: int | None, skipped: list[Skipped]) -> tuple[list[tuple[Document, bool]],
                                                                                 set[str], int]:
    """Load the files that are new or changed since `known` (source -> content hash): (document, is new) each,
    every source seen, and how many were unchanged. Unreadable, oversized and unloadable files are appended to
    `skipped` with their reason."""
    docs: list[tuple[Document, bool]] = []
    seen: set[str] = set()
    unchanged = 0
    for f in files:
        source = source_name(f, root)
        seen.add(source)
        try:
            size = f.stat().st_size
            if max_file_bytes is not None and size > max_file_bytes:
                skipped.append(Skipped(source, f"the file is {size / 2**20:.1f} MB, over the limit of "
                                               f"{max_file_bytes / 2**20:g} MB: raise SEEDRAG_MAX_FILE_MB to index it"))
                continue
            data = f.read_bytes()
        except OSError as exc:
            skipped.append(Skipped(source, f"cannot read the file: {exc.strerror or exc}"))
            continue
        if known.get(source) == content_hash(data) and not reread:
            unchanged += 1
            continue
        try:
            docs.append((load_document(f, source), source not in known))
        except DocumentError as exc:
            skipped.append(Skipped(source, str(exc)))
    return docs, seen, unchanged


def _under(source: str, scopes: list[str]) -> bool:
    return any(source == s or source.startswith(s.rstrip("/") + "/") or s in ("", ".") for s in scopes)


def _embed(
    docs: list[tuple[Document, bool]], embedder: Embedder, size: int, overlap: int, progress: Progress | None
) -> list[StoredDocument]:
    """Chunk and embed `docs`: every chunk's vector and its sentences' vectors (`index.sentences`, the
    sentences the answerer scores), from one forward pass with the default embedder.

    The documents are split and chunked in a thread beside the embedding (`_Chunker`; sentence splitting is
    Python, the model runs in ONNX Runtime or torch without the GIL): 1.12x the chunks/s of chunking everything
    first, on 600 SciFact abstracts (vectors identical). `progress(done, total)`: while documents are still being
    chunked, `total` is extrapolated from those chunked so far (never reached before the end)."""
    chunker = _Chunker(docs, embedder, size, overlap)
    chunked: list[tuple[Document, list[Chunk]]] = []
    pending: list[tuple[Chunk, tuple[tuple[int, int], ...]]] = []
    blocks: list[np.ndarray] = []
    sentences: list[SentenceVectors] = []
    produced = embedded = 0
    finished = False
    try:
        while True:
            while not finished and len(pending) < EMBED_BATCH:
                item = chunker.get()
                if item is None:
                    finished = True
                    break
                chunked.append((item[0], item[1]))
                pending.extend(zip(item[1], item[2], strict=True))
                produced += len(item[1])
            if not pending:
                break
            batch, pending = pending[:EMBED_BATCH], pending[EMBED_BATCH:]
            relative = [[(a - c.start, b - c.start) for a, b in s] for c, s in batch]
            block, per_chunk = embed_with_spans(embedder, [c.text for c, _ in batch], relative)
            blocks.append(block)
            sentences.extend(SentenceVectors(s, v) for (_, s), v in zip(batch, per_chunk, strict=True))
            embedded += len(batch)
            if progress:  # the total extrapolated from the documents chunked so far; exact once all are
                total = produced if finished else max(embedded + 1, produced * len(docs) // len(chunked))
                progress(embedded, total)
    finally:
        chunker.close()
    vectors = np.concatenate(blocks) if blocks else np.zeros((0, embedder.dimension), dtype=np.float32)
    out, at = [], 0
    for d, chunks in chunked:
        n = len(chunks)
        out.append(StoredDocument(d, tuple(chunks), vectors[at:at + n], tuple(sentences[at:at + n])))
        at += n
    return out


_Chunked = tuple[Document, list[Chunk], list[tuple[tuple[int, int], ...]]]


class _Chunker:
    """Splits and chunks documents in a thread, handing (document, chunks, each chunk's sentence spans) over a
    bounded queue; a failure there is raised in the caller's thread by `get`."""

    def __init__(self, docs: list[tuple[Document, bool]], embedder: Embedder, size: int, overlap: int) -> None:
        self.ready: queue.Queue[_Chunked | None] = queue.Queue(256)
        self.failure: list[BaseException] = []
        self.stop = threading.Event()  # the caller failed (or was interrupted): the chunker ends too
        self.thread = threading.Thread(target=self._run, args=(docs, embedder, size, overlap),
                                       name="seedrag-chunker", daemon=True)
        self.thread.start()

    def _run(self, docs: list[tuple[Document, bool]], embedder: Embedder, size: int, overlap: int) -> None:
        try:
            for d, _ in docs:
                if self.stop.is_set():
                    return
                split = split_sentences(d.text)  # once a document: the chunker packs them, each chunk keeps its own
                chunks = chunk_document(d, size, overlap, embedder.fits, split)
                self.ready.put((d, chunks, [tuple(clip(split, d.text, c.start, c.end)) for c in chunks]))
        except BaseException as exc:  # raised again by get, in the caller's thread
            self.failure.append(exc)
        finally:
            self.ready.put(None)

    def get(self) -> _Chunked | None:
        """The next chunked document, or None when all are; the chunker's failure is raised here."""
        item = self.ready.get()
        if item is None and self.failure:
            raise self.failure[0]
        return item

    def close(self) -> None:
        self.stop.set()
        while self.thread.is_alive():  # unblock a chunker waiting on a full queue, then let it end
            try:
                self.ready.get(timeout=0.05)
            except queue.Empty:
                pass
        self.thread.join()
