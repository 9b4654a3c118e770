"""`seedrag eval scale`: how the embedded store grows, from 10k to 1M chunks.

At each size the FAISS store's own index code (`index.stores.faiss`: `vector_index`, `read_vector_index`,
`search_vectors`) indexes synthetic 384-dimensional unit vectors, the cluster mixture of the pgvector
benchmark (`eval.suites.pgvector`: 2,000 Gaussian clusters, the shape of a topical corpus's embeddings, not
uniform noise), both ways: exact IndexFlatIP and the HNSW graph, so the crossover is visible; the store
picks one of them by size (`FLAT_MAX`). Per index: build time (both cores, as `seedrag index` builds),
bytes per chunk of vectors.faiss on disk and in RAM (the arrays the loaded index holds; beside them the
resident-set growth of reading the file back, which the allocator blurs at small sizes), load time,
top-10 latency p50/p95 over 200 queries one at a time on one thread (as the store searches), and
recall@10 against exact search; for HNSW also recall and p50 at other efSearch values and the time to
extend the graph by 1,000 chunks (what an `apply` that only adds does).

Beside it, the project's BM25 (`index.lexical.BM25`, which the FAISS store builds in memory on the first
lexical search) over synthetic texts of 150 words drawn from a Zipf vocabulary whose most frequent words
are the English stop words (so about 40% of the words are dropped, as in prose), queried with 10-word
queries from the same distribution: build time, peak and retained memory, query p50/p95. A size whose
BM25 would not fit in the memory available (projected from the size before it) is skipped, and the
report says so.

Sizes 10k, 100k, 1M; `--limit N` the same ladder up to N (N included); `--quick` 10k and 20k.
"""

from __future__ import annotations

import gc
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import percentile
from eval.report import Report
from eval.suites.pgvector import DIM, cluster_centres, vectors

SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 20_000)
QUERIES = 200
K = 10
EF_SWEEP = (16, 32, 64, 128, 256, 512)
EXTEND = 1_000  # chunks added to a built graph (an incremental `seedrag index`)
WORDS, QUERY_WORDS = 150, 10  # a 200-token chunk is ~150 words
VOCABULARY = 1_000_000  # distinct words (Heaps' law puts 150M words of prose near this)
SEED = 7
PLOT = "scale.png"


def ladder(limit: int | None, quick: bool) -> tuple[int, ...]:
    """The sizes to measure: `--quick`'s two, the default 10k/100k/1M, or that ladder up to `limit`.

    >>> ladder(300_000, False)
    (10000, 100000, 300000)
    """
    if quick:
        return QUICK_SIZES
    if limit is None:
        return SIZES
    return tuple(n for n in SIZES if n < limit) + (limit,)


def run(settings: Any, quick: bool = False, full: bool = False, limit: int | None = None,
        embedder: Any = None, sizes: Sequence[int] | None = None) -> Report:
    """Measure every size in `sizes` (default `ladder(limit, quick)`); `settings` and `embedder` are unused
    (no text is embedded), the signature is the suites' common one."""
    import faiss

    from index.stores import faiss as store

    sizes = tuple(sizes or ladder(limit, quick))
    started, load_at_start = time.perf_counter(), _loadavg()
    vector_rows: list[dict[str, Any]] = []
    ef_rows: list[dict[str, Any]] = []
    bm25_rows: list[dict[str, Any]] = []
    for n in sizes:
        rows, sweep = _vectors_at(n)
        vector_rows += rows
        ef_rows += sweep
    for n in sizes:
        bm25_rows.append(_bm25_at(n, bm25_rows[-1] if bm25_rows else None))
    summary: dict[str, Any] = {
        "sizes": ", ".join(f"{n:,}" for n in sizes), "dimension": DIM, "queries": QUERIES, "k": K,
        "store.FLAT_MAX": store.FLAT_MAX, "store.HNSW_M": store.HNSW_M,
        "store.HNSW_EF_CONSTRUCTION": store.HNSW_EF_CONSTRUCTION, "store.HNSW_EF_SEARCH": store.HNSW_EF_SEARCH,
        "faiss": faiss.__version__, "build threads": faiss.omp_get_max_threads(),
        "load average (1, 5, 15 min) at start": load_at_start,
    }
    for row in vector_rows:
        if row["chosen"]:
            key = f"{row['chunks']:,} {row['index']}"
            summary.update({f"{key}.p50_ms": row["p50_ms"], f"{key}.p95_ms": row["p95_ms"],
                            f"{key}.recall@10": row["recall@10"], f"{key}.build_s": row["build_s"]})
    for row in bm25_rows:
        summary[f"{row['chunks']:,} bm25.build_s"] = row["build_s"]
        summary[f"{row['chunks']:,} bm25.query_p50_ms"] = row["query_p50_ms"]
    largest = next(r for r in reversed(vector_rows) if r["chosen"])
    summary[f"bar: at {largest['chunks']:,}, p50 <= 25 ms and recall@10 >= 0.95"] = (
        largest["p50_ms"] <= 25 and largest["recall@10"] >= 0.95)
    summary["load average at end"] = _loadavg()
    summary["total_seconds"] = time.perf_counter() - started
    return ScaleReport("scale", summary, vector_rows,
                       tables={"vector index": vector_rows, "HNSW efSearch": ef_rows, "BM25": bm25_rows})


def _vectors_at(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both index kinds over n vectors of the mixture: a row each, and the HNSW efSearch sweep."""
    import faiss

    from index.stores import faiss as store

    rng = np.random.default_rng(SEED)
    centres = cluster_centres(rng)
    queries = vectors(QUERIES, rng, centres)
    data = vectors(n, rng, centres)
    exact = store.vector_index(data, kind="flat")
    truth = exact.search(queries, K)[1]  # exact top-10, all queries at once
    del exact
    rows, sweep = [], []
    with tempfile.TemporaryDirectory(prefix="seedrag-scale-") as tmp:
        for kind in ("flat", "hnsw"):
            t = time.perf_counter()
            with _peak_rss() as peak:
                index = store.vector_index(data, kind=kind)
            build_s = time.perf_counter() - t
            path = Path(tmp) / f"{kind}.faiss"
            faiss.write_index(index, str(path))
            extend_s = None
            if kind == "hnsw":
                extra = np.vstack([data, vectors(EXTEND, rng, centres)])
                t = time.perf_counter()
                store.vector_index(extra, base=index)
                extend_s = time.perf_counter() - t
                del extra
            del index
            gc.collect()
            before = _rss()
            t = time.perf_counter()
            index = store.read_vector_index(path)
            load_s = time.perf_counter() - t
            ram = _rss() - before
            p50, p95, recall = _timed_search(index, queries, truth)
            rows.append({
                "chunks": n, "index": kind,
                "chosen": store.index_kind(n) == kind,
                "build_s": build_s, "build_peak_mb": peak() / 2**20, "load_s": load_s,
                "disk_bytes/chunk": path.stat().st_size / n, "ram_bytes/chunk": _held_bytes(index) / n,
                "rss_bytes/chunk": ram / n,
                "p50_ms": 1000 * p50, "p95_ms": 1000 * p95, "recall@10": recall,
                f"extend_s (+{EXTEND:,})": extend_s,
            })
            if kind == "hnsw":
                for ef in EF_SWEEP:
                    index.hnsw.efSearch = ef
                    p50, p95, recall = _timed_search(index, queries, truth)
                    sweep.append({"chunks": n, "efSearch": ef, "p50_ms": 1000 * p50, "p95_ms": 1000 * p95,
                                  "recall@10": recall, "store's": ef == store.HNSW_EF_SEARCH})
            del index
            gc.collect()
    return rows, sweep


def _held_bytes(index: Any) -> int:
    """The bytes of the arrays a loaded index holds: the vectors, and for HNSW its links, offsets and levels."""
    import faiss

    if not isinstance(index, faiss.IndexHNSW):
        return int(index.ntotal * index.sa_code_size())
    graph: Any = index.hnsw  # FAISS's type stubs leave out its arrays
    return int(index.ntotal * index.storage.sa_code_size() + 4 * graph.neighbors.size() + 8 * graph.offsets.size()
               + 4 * graph.levels.size())


def _timed_search(index: Any, queries: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """p50 and p95 seconds of the store's search (one query at a time) and mean recall@K against `truth`."""
    from index.stores.faiss import search_vectors

    seconds, recall = [], []
    for q, want in zip(queries, truth, strict=True):
        t = time.perf_counter()
        _, got = search_vectors(index, q.reshape(1, -1), K)
        seconds.append(time.perf_counter() - t)
        recall.append(len(set(got[0].tolist()) & set(want.tolist())) / K)
    return percentile(seconds, 50), percentile(seconds, 95), float(np.mean(recall))


# ---- BM25 ----------------------------------------------------------------------------------------
def _bm25_at(n: int, previous: dict[str, Any] | None) -> dict[str, Any]:
    """Build the project's BM25 over n synthetic texts and time queries; skipped (with the reason) if the
    build measured at the previous size, scaled to n, would not fit in the memory available now."""
    from index.lexical import BM25

    row: dict[str, Any] = {"chunks": n, "build_s": None, "build_peak_mb": None, "retained_mb": None,
                           "query_p50_ms": None, "query_p95_ms": None, "note": ""}
    available = _available()
    if previous and previous["build_peak_mb"] is not None and available is not None:
        projected = previous["build_peak_mb"] * 2**20 * n / previous["chunks"]
        if projected > 0.8 * available:
            row["note"] = (f"skipped: the build would take ~{projected / 2**30:.1f} GB (from "
                           f"{previous['chunks']:,}), {available / 2**30:.1f} GB available")
            return row
    rng = np.random.default_rng(SEED)
    vocabulary, cumulative = _zipf_vocabulary(rng)
    texts = list(_texts(n, WORDS, vocabulary, cumulative, rng))
    queries = list(_texts(QUERIES, QUERY_WORDS, vocabulary, cumulative, rng))
    gc.collect()
    before = _rss()
    t = time.perf_counter()
    with _peak_rss() as peak:
        model = BM25(texts)
    row["build_s"] = time.perf_counter() - t
    gc.collect()
    row["build_peak_mb"], row["retained_mb"] = peak() / 2**20, (_rss() - before) / 2**20
    seconds, found = [], 0
    for q in queries:
        t = time.perf_counter()
        positions, _ = model.search(q, K)
        seconds.append(time.perf_counter() - t)
        found += len(positions) == K
    row["query_p50_ms"], row["query_p95_ms"] = 1000 * percentile(seconds, 50), 1000 * percentile(seconds, 95)
    row["note"] = f"{found}/{QUERIES} queries filled all {K} results"
    return row


def _zipf_vocabulary(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """VOCABULARY words by rank (the English stop words first, then made-up words of 3-10 letters) and the
    cumulative Zipf (1/rank) probabilities to draw them with."""
    from bm25s.stopwords import STOPWORDS_EN

    stop = sorted(set(STOPWORDS_EN))
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    made: set[str] = set()
    while len(made) < VOCABULARY - len(stop):
        lengths = rng.integers(3, 11, VOCABULARY)
        codes = rng.integers(0, 26, (VOCABULARY, 10))
        made.update("".join(letters[c[:m]]) for c, m in zip(codes, lengths, strict=True))
        made -= set(stop)
    words = np.array(stop + sorted(made)[: VOCABULARY - len(stop)], dtype=object)
    weights = 1.0 / np.arange(1, VOCABULARY + 1)
    return words, np.cumsum(weights) / weights.sum()


def _texts(n: int, words: int, vocabulary: np.ndarray, cumulative: np.ndarray,
           rng: np.random.Generator) -> Iterator[str]:
    for at in range(0, n, 10_000):
        draws = np.searchsorted(cumulative, rng.random((min(10_000, n - at), words)))
        for row in np.minimum(draws, len(vocabulary) - 1):
            yield " ".join(vocabulary[row])


# ---- memory --------------------------------------------------------------------------------------
def _rss() -> int:
    """Resident set size of this process in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _available() -> int | None:
    """MemAvailable in bytes, or None where /proc/meminfo is not there."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


@contextmanager
def _peak_rss(every: float = 0.05) -> Iterator[Callable[[], int]]:
    """Sample the resident set while the block runs; yields a function giving the peak growth in bytes."""
    start, peak = _rss(), [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(every):
            peak[0] = max(peak[0], _rss() - start)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: peak[0]
    finally:
        done.set()
        thread.join()
        peak[0] = max(peak[0], _rss() - start)


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


# ---- the report and its plot ---------------------------------------------------------------------
@dataclass
class ScaleReport(Report):
    """A Report that also draws the growth curves (PNG) into the folder it is written to."""

    def write(self, out: Path) -> Path:
        out.mkdir(parents=True, exist_ok=True)
        drawn = plot(self.tables["vector index"], self.tables["BM25"], self.summary["store.FLAT_MAX"], out / PLOT)
        if drawn and PLOT not in self.plots:
            self.plots.append(PLOT)
        return super().write(out)


def plot(vector_rows: list[dict[str, Any]], bm25_rows: list[dict[str, Any]], flat_max: int, path: Path) -> bool:
    """Latency, build time, bytes per chunk and recall against the chunk count, the store's switch from flat to
    HNSW at `flat_max` marked; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        return False
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    (latency, build), (size, recall) = axes
    for kind, colour in (("flat", "C0"), ("hnsw", "C1")):
        rows = [r for r in vector_rows if r["index"] == kind]
        n = [r["chunks"] for r in rows]
        latency.plot(n, [r["p50_ms"] for r in rows], "o-", color=colour, label=f"{kind} p50")
        latency.plot(n, [r["p95_ms"] for r in rows], "o--", color=colour, alpha=0.6, label=f"{kind} p95")
        build.plot(n, [r["build_s"] for r in rows], "o-", color=colour, label=kind)
        size.plot(n, [r["disk_bytes/chunk"] for r in rows], "o-", color=colour, label=f"{kind} on disk")
        size.plot(n, [r["ram_bytes/chunk"] for r in rows], "s--", color=colour, alpha=0.6, label=f"{kind} in RAM")
        recall.plot(n, [r["recall@10"] for r in rows], "o-", color=colour, label=kind)
    done = [r for r in bm25_rows if r["build_s"] is not None]
    if done:
        size.plot([r["chunks"] for r in done], [r["retained_mb"] * 2**20 / r["chunks"] for r in done], "o-",
                  color="C2", label="BM25 in RAM")
        latency.plot([r["chunks"] for r in done], [r["query_p50_ms"] for r in done], "o-", color="C2",
                     label="BM25 query p50")
        build.plot([r["chunks"] for r in done], [r["build_s"] for r in done], "o-", color="C2", label="BM25")
    latency.axhline(25, color="k", lw=0.8, ls=":", label="bar: 25 ms")
    recall.axhline(0.95, color="k", lw=0.8, ls=":", label="bar: 0.95")
    titles = (("top-10 search, one thread (ms)", latency), ("build (s)", build),
              ("bytes per chunk", size), ("recall@10 vs exact", recall))
    for title, ax in titles:
        ax.axvline(flat_max, color="grey", lw=0.8, ls="--", label=f"store: HNSW from {flat_max:,}")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
        ax.set_title(title)
        ax.set_xlabel("chunks")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    latency.set_yscale("log")
    build.set_yscale("log")
    size.set_ylim(bottom=0)
    recall.set_ylim(min(0.9, *(r["recall@10"] - 0.01 for r in vector_rows)), 1.005)
    fig.suptitle(f"seedrag's embedded store: FAISS over {DIM}-d clustered unit vectors, BM25 over Zipf texts")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


if __name__ == "__main__":  # python -m eval.suites.scale 10000 50000: measure other sizes
    import sys

    from rag.settings import Settings

    result = run(Settings(), sizes=[int(a) for a in sys.argv[1:]] or None)
    print(result.write(Path("eval/out/scale")))
