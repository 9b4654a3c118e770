"""The embedded default store: a folder of plain files plus a FAISS inner-product index.

Layout of the index folder::

    CURRENT              names the live generation, replaced atomically (os.replace)
    gen-000007/          manifest.json, documents.jsonl, chunks.jsonl, vectors.faiss, sentences.npy, and
                         bm25/ (the BM25 index, saved by the first process that needed it, memory-mapped by the rest)
    .lock                taken by writers, so two builds never interleave

A write builds a complete new generation beside the live one and then switches `CURRENT`, so a
build killed half-way leaves the previous index loadable. Readers in other processes notice the
switch on `refresh()`.

The vector index is chosen by size when a generation is written (`vector_index`): exact search
(IndexFlatIP) below `FLAT_MAX` chunks, an HNSW graph (IndexHNSWFlat, inner product) from there on.
vectors.faiss holds either; `faiss.read_index` gives back the kind that was written.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np

from index.chunking import Chunk
from index.documents import Document, blocks_from_json, blocks_to_json
from index.errors import IndexMismatchError, IndexNotFoundError, StoreError
from index.lexical import BM25
from index.manifest import Manifest
from index.stores.base import SENTENCE_DTYPE, SentenceVectors, StoredDocument, check_sentences

_OMP_LOCK = threading.Lock()

# Index kind by size, measured on this machine (2 cores, load ~1-2) with 384-d clustered unit vectors, one
# thread, k=10 (`seedrag eval scale`, README "Scale"). Exact flat search reads every vector, ~0.11 ms per
# 1,000 chunks once they outgrow the CPU cache: p50 0.6 ms at 10k, 1.7 ms at 30k, 5.4 ms at 50k, 11.6 ms at
# 100k, 23 ms at 200k, 119 ms at 1M. FLAT_MAX is where it passes ~5 ms: below it, exact search is fast enough
# and a graph would only cost build time (1.4 s at 10k) and recall.
FLAT_MAX = 50_000
# The graph (IndexHNSWFlat, inner product), chosen at 1M chunks, where the clustered vectors are hardest
# (at 100k every setting tried reaches 0.99). Recall@10 at efSearch 128 / build on 2 cores: M=16 with
# efConstruction 40: 0.78 / 117 s (at most 0.89 at any efSearch); M=16, 80: 0.96 / 198 s; M=32, 40:
# 0.86 / 134 s; M=32, 60: 0.94 / 183 s; M=32, 80: 0.996 / 154-174 s; M=48, 80: 0.990 / 278 s. M=32 costs
# ~1,808 bytes a chunk in all (1,536 of them the vector), 128 more than M=16.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
# The search beam: at 1M, recall@10 0.92 at 32, 0.973 at 64, 0.9955 at 128 (p50 0.4 ms), 0.996 at 256; 128
# leaves a margin over 0.95 for larger or harder sets at a fraction of a millisecond. A query for more than
# efSearch chunks searches with a beam of k.
HNSW_EF_SEARCH = 128

IndexKind = Literal["flat", "hnsw"]


class FaissStore:
    """Documents, chunks and vectors in a folder; everything is held in memory once loaded."""

    def __init__(self, path: str | os.PathLike[str], create: bool = True, fresh: bool = False) -> None:
        """Open the index at `path`. `fresh=True` ignores what is there (for a rebuild): the old index
        stays on disk, and loadable, until the first `apply` replaces it."""
        self.path = Path(path)
        self._fresh = fresh
        if not create and not (self.path / "CURRENT").exists():
            raise IndexNotFoundError(
                f"No index at {self.path}. Build one first: seedrag index seeds/ --index-dir {self.path}"
            )
        self._lock = threading.RLock()
        self._generation: str | None = None
        if create and self.path.is_dir():
            self._sweep_staging()
        self._load()

    def _reset(self) -> None:
        self._manifest: Manifest | None = None
        self._docs: dict[str, Document] = {}
        self._chunks: list[Chunk] = []
        self._sentences: dict[str, SentenceVectors] = {}
        self._index: Any = None
        self._bm25: BM25 | None = None

    # ---- reading -------------------------------------------------------------------------------
    def _current(self) -> str | None:
        try:
            return (self.path / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"Cannot read the index at {self.path}: {exc}") from exc

    def _load(self) -> None:
        """Read the live generation into local variables, then swap them in at once: a reader never sees
        a half-loaded index."""
        generation = None if self._fresh else self._current()
        if generation is None:
            with self._lock:
                self._generation = None
                self._reset()
            return
        folder = self.path / generation
        try:
            manifest = Manifest.from_json(json.loads((folder / "manifest.json").read_text()))
            docs = {d.source: d for d in map(_doc_from_json, _read_jsonl(folder / "documents.jsonl"))}
            rows = list(_read_jsonl(folder / "chunks.jsonl"))
            chunks = [_chunk_from_json(c, docs) for c in rows]
            sentences = _sentences_from(rows, folder / "sentences.npy")
            index = read_vector_index(folder / "vectors.faiss")
        except IndexMismatchError:
            raise
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise StoreError(
                f"The index at {self.path} ({generation}) is damaged: {exc}. Rebuild it: seedrag index --rebuild"
            ) from exc
        if index.ntotal != len(chunks):
            raise StoreError(f"The index at {self.path} is inconsistent; rebuild it: seedrag index --rebuild")
        with self._lock:
            self._generation, self._manifest, self._docs = generation, manifest, docs
            self._chunks, self._index, self._bm25 = chunks, index, None
            self._sentences = sentences

    def refresh(self) -> bool:
        if not self._fresh and self._current() != self._generation:
            self._load()
            return True
        return False

    def manifest(self) -> Manifest | None:
        return self._manifest

    def document(self, source: str) -> Document | None:
        return self._docs.get(source)

    def sources(self) -> list[str]:
        return sorted(self._docs)

    def chunk_count(self) -> int:
        return len(self._chunks)

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, SentenceVectors]:
        with self._lock:
            return {i: self._sentences[i] for i in chunk_ids if i in self._sentences}

    def search_dense(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        with self._lock:
            if not self._chunks or k <= 0:
                return []
            query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
            if query.shape[1] != self._index.d:
                raise IndexMismatchError(
                    f"Query vectors have {query.shape[1]} dimensions, the index {self._index.d}. "
                    "Re-index with the current model: seedrag index --rebuild"
                )
            scores, ids = search_vectors(self._index, query, min(k, len(self._chunks)))
            return [(self._chunks[i], float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def search_lexical(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        with self._lock:
            positions, scores = self._lexical().search(query, k)
            return [(self._chunks[i], float(s)) for i, s in zip(positions, scores, strict=True)]

    @property
    def location(self) -> str:
        return str(self.path.resolve())

    def close(self) -> None:
        """Nothing to release: the files are memory-mapped and closed with the arrays."""

    def lexical_model(self) -> BM25:
        """The BM25 model (for idf look-ups by the answer extractor)."""
        with self._lock:
            return self._lexical()

    def _lexical(self) -> BM25:
        """The generation's BM25: read from its `bm25/` folder when an earlier process saved it there, else built
        from the chunks and saved (best effort, atomically) so the next process does not build it again (at 1M
        chunks a build takes minutes)."""
        if self._bm25 is not None:
            return self._bm25
        folder = self.path / self._generation / "bm25" if self._generation else None
        damaged = False
        if folder is not None and folder.is_dir():
            try:
                self._bm25 = BM25.load(folder)
                return self._bm25
            except (OSError, ValueError, KeyError):
                damaged = True  # or of another layout: built again, and written over
        self._bm25 = BM25([c.text for c in self._chunks])
        if folder is not None:
            staging = folder.with_name(f".bm25-{os.getpid()}-{threading.get_ident()}.tmp")
            try:
                self._bm25.save(staging)
                if damaged:
                    shutil.rmtree(folder, ignore_errors=True)
                os.replace(staging, folder)  # fails on a folder another process saved first
            except OSError:  # that, or a read-only index: keep ours in memory
                shutil.rmtree(staging, ignore_errors=True)
        return self._bm25

    # ---- writing -------------------------------------------------------------------------------
    def apply(self, upserts: Sequence[StoredDocument], removals: Sequence[str], manifest: Manifest) -> None:
        with self._writer():
            self.refresh()  # another process may have written since we loaded
            replaced = set(removals) | {u.document.source for u in upserts}
            keep = [i for i, c in enumerate(self._chunks) if c.source not in replaced]
            old = self._index.reconstruct_batch(np.asarray(keep, dtype=np.int64)) if keep else None
            docs = {s: d for s, d in self._docs.items() if s not in replaced}
            chunks = [self._chunks[i] for i in keep]
            sentences = {c.id: self._sentences[c.id] for c in chunks if c.id in self._sentences}
            blocks = [old] if old is not None else []
            if old is not None and old.shape[1] != manifest.dimension:
                raise IndexMismatchError(
                    f"The index holds {old.shape[1]}-dimensional vectors, the new ones have {manifest.dimension}. "
                    "Re-index everything: seedrag index --rebuild"
                )
            for u in upserts:
                if len(u.vectors) and np.asarray(u.vectors).ndim == 2 and u.vectors.shape[1] != manifest.dimension:
                    raise IndexMismatchError(
                        f"{u.document.source}: vectors have {u.vectors.shape[1]} dimensions, the manifest says "
                        f"{manifest.dimension}. Re-index: seedrag index --rebuild"
                    )
                if len(u.chunks) != len(u.vectors):
                    raise StoreError(f"{u.document.source}: {len(u.chunks)} chunks but {len(u.vectors)} vectors")
                check_sentences(u, manifest.dimension)
                sentences.update((c.id, v) for c, v in zip(u.chunks, u.sentences, strict=False))
                docs[u.document.source] = u.document
                chunks.extend(u.chunks)
                if len(u.chunks):
                    blocks.append(np.asarray(u.vectors, dtype=np.float32))
            vectors = np.vstack(blocks) if blocks else np.zeros((0, manifest.dimension), dtype=np.float32)
            if vectors.shape[1] != manifest.dimension:
                raise IndexMismatchError(
                    f"Vectors have {vectors.shape[1]} dimensions, the manifest says {manifest.dimension}. "
                    "Re-index: seedrag index --rebuild"
                )
            # only additions: the live graph is extended (a copy) instead of rebuilt
            index = vector_index(vectors, base=self._index if len(keep) == len(self._chunks) else None)
            manifest = Manifest(**{**manifest.to_json(), "files": {s: d.content_hash for s, d in docs.items()}})
            self._write_generation(manifest, docs, chunks, index, sentences)
            self._fresh = False
        self._load()

    @contextmanager
    def _writer(self) -> Iterator[None]:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            handle = open(self.path / ".lock", "w")  # noqa: SIM115 - held for the whole write
        except OSError as exc:
            raise StoreError(f"Cannot write the index at {self.path}: {exc}") from exc
        with handle, self._lock:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _sweep_staging(self) -> None:
        """Remove the half-written generations (`.gen-N.tmp`) a killed build left, unless a writer holds the
        lock now (its own staging folder is in use): opening an index to write it, even for a no-op build."""
        leftovers = list(self.path.glob(".gen-*.tmp"))
        if not leftovers:
            return
        try:
            with open(self.path / ".lock", "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                for folder in leftovers:
                    shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # busy (another process is writing) or read-only: leave them for the next writer
            pass

    def _write_generation(
        self, manifest: Manifest, docs: dict[str, Document], chunks: list[Chunk], index: Any,
        sentences: dict[str, SentenceVectors],
    ) -> None:
        import faiss

        number = 1 + max((int(p.name[4:]) for p in self.path.glob("gen-*") if p.name[4:].isdigit()), default=0)
        name = f"gen-{number:06d}"
        staging = self.path / f".{name}.tmp"
        try:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            _write_jsonl(staging / "documents.jsonl", (_doc_to_json(d) for d in docs.values()))
            _write_jsonl(staging / "chunks.jsonl", (
                {"id": c.id, "source": c.source, "start": c.start, "end": c.end, "page": c.page, "section": c.section,
                 **({"sentences": [list(span) for span in sentences[c.id].spans]} if c.id in sentences else {})}
                for c in chunks
            ))
            faiss.write_index(index, str(staging / "vectors.faiss"))
            held = [sentences[c.id].vectors for c in chunks if c.id in sentences]
            if held:
                np.save(staging / "sentences.npy", np.vstack(held).astype(SENTENCE_DTYPE))
            _write_text(staging / "manifest.json", json.dumps(manifest.to_json(), indent=1, sort_keys=True))
            staging.rename(self.path / name)
            _write_text(self.path / "CURRENT.tmp", name)
            os.replace(self.path / "CURRENT.tmp", self.path / "CURRENT")
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise StoreError(f"Cannot write the index at {self.path}: {exc}. The previous index is intact.") from exc
        # keep the previous generation for readers that are still loading it; drop older ones
        for old in sorted(self.path.glob("gen-*"))[:-2]:
            shutil.rmtree(old, ignore_errors=True)


def vector_index(vectors: np.ndarray, kind: IndexKind | None = None, base: Any = None) -> Any:
    """The FAISS index over `vectors` (row i is chunk i) that the store writes: `kind`, or by size, exact
    IndexFlatIP below FLAT_MAX rows and IndexHNSWFlat (inner product) from there on. `base`, an HNSW index
    over the first rows of `vectors`, is copied and extended by the rest instead of built again.

    >>> vector_index(np.eye(4, dtype=np.float32)).ntotal
    4
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dimension = vectors.shape
    if (kind or index_kind(n)) == "flat":
        flat = faiss.IndexFlatIP(dimension)
        flat.add(vectors)
        return flat
    if isinstance(base, faiss.IndexHNSW) and base.d == dimension and base.ntotal <= n:
        extended = faiss.clone_index(base)
        extended.add(vectors[base.ntotal:])
        return _tuned(extended)
    graph = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    graph.add(vectors)
    return _tuned(graph)  # efSearch is written with the file, for readers that do not set it


def index_kind(chunks: int) -> IndexKind:
    """The kind of vector index the store writes for this many chunks."""
    return "flat" if chunks < FLAT_MAX else "hnsw"


def read_vector_index(path: Path) -> Any:
    """vectors.faiss as written (flat or HNSW), with the store's search beam."""
    import faiss

    return _tuned(faiss.read_index(str(path)))


def search_vectors(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the k best inner products for each row of `queries`, on one thread; an HNSW search
    looks at max(efSearch, k) candidates, so a long list is as complete as a short one."""
    import faiss

    params = None
    if isinstance(index, faiss.IndexHNSW):
        params = faiss.SearchParametersHNSW(efSearch=max(index.hnsw.efSearch, k))  # type: ignore[attr-defined]
    with _one_thread():
        return index.search(queries, k, params=params)


def _tuned(index: Any) -> Any:
    """`index` with the store's efSearch if it is an HNSW graph (not every FAISS version writes it)."""
    import faiss

    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


@contextmanager
def _one_thread() -> Iterator[None]:
    """FAISS on one OpenMP thread for a search (one query: threads only add overhead, 55 ms -> 0.5 ms under
    load), then the process's setting back: OpenMP's thread count is shared with torch, and setting it once
    for good left every embedding (ingest and queries) on one core."""
    import faiss

    with _OMP_LOCK:  # searches of several stores must not save each other's setting
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            yield
        finally:
            faiss.omp_set_num_threads(before)


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _write_jsonl(path: Path, rows: Any) -> None:
    _write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _sentences_from(rows: list[dict[str, Any]], path: Path) -> dict[str, SentenceVectors]:
    """The sentence vectors of the chunks (rows of chunks.jsonl) that have them; none for a generation
    written before they were stored."""
    if not path.exists():
        return {}
    matrix = np.load(path, mmap_mode="r")  # paged in as questions need them, not all held in RAM
    out, at = {}, 0
    for row in rows:
        spans = row.get("sentences")
        if spans is None:
            continue
        n = len(spans)
        out[row["id"]] = SentenceVectors(tuple((int(a), int(b)) for a, b in spans), matrix[at:at + n])
        at += n
    if at != len(matrix):
        raise ValueError(f"sentences.npy holds {len(matrix)} vectors, chunks.jsonl names {at}")
    return out


def _chunk_from_json(c: dict[str, Any], docs: dict[str, Document]) -> Chunk:
    doc = docs[c["source"]]
    return Chunk(c["id"], c["source"], doc.text[c["start"]:c["end"]], c["start"], c["end"], c.get("page"),
                 c.get("section", ""))


def _doc_to_json(d: Document) -> dict[str, Any]:
    return {"source": d.source, "text": d.text, "content_hash": d.content_hash, "title": d.title,
            "pages": list(d.pages), "blocks": blocks_to_json(d.blocks)}


def _doc_from_json(d: dict[str, Any]) -> Document:
    return Document(d["source"], d["text"], d["content_hash"], d.get("title", ""), tuple(d.get("pages", ())),
                    blocks_from_json(d.get("blocks", ())))
