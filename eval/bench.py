"""`seedrag bench`: how fast this machine ingests, retrieves and answers, on any folder or a built-in data set.

    seedrag bench seeds/                              a folder (questions: --questions FILE, else its sentences)
    seedrag bench --dataset squad --limit 100         seed | squad | scifact, with the data set's questions
    seedrag bench seeds/ --compare reranker=none      the current settings vs changed ones, alternately
    seedrag bench seeds/ --clients 4                  also N concurrent clients over HTTP (POST /api/v1/ask)
    seedrag bench seeds/ --clients 50 --duration 30   a crowd for 30 s, clients waiting Retry-After on a 503

Every variant builds its own throw-away index of the same documents (ingest: documents/s, chunks/s of the
chunking + embedding step) beside a plain sentence-transformers encode of the same chunk texts (batch 32,
all cores: the yardstick every peer embeds at). Questions are then asked one at a time, variants alternating
question by question, so both see the same machine load; the report gives p50/p95 of `retrieve` and `ask`
per variant and the ratios to the first. With `--clients`, each variant is served by the real REST API in
this process and N threads ask at once (throughput, p50/p95 per request). Peak RSS and the load average
before and after are recorded. Writes report.json and report.md under --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.report import Report, fmt

DATASETS = ("seed", "squad", "scifact")
DEFAULT_LIMIT = 50


def register(sub: Any, parents: list[argparse.ArgumentParser],
             settings_of: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], int]:
    """Add `bench` to the `seedrag` subparsers (entry-point group `seedrag.commands`); returns its handler."""
    parser = sub.add_parser("bench", parents=parents, help="measure ingest, retrieve and ask speed",
                           description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", help="files or folders to index (or --dataset)")
    parser.add_argument("--dataset", choices=DATASETS, help="a built-in data set and its questions")
    parser.add_argument("--questions", metavar="FILE", help="questions: one per line, or JSON lines with 'question'")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help=f"questions asked (default {DEFAULT_LIMIT})")
    parser.add_argument("--compare", nargs="+", metavar="KEY=VALUE", action="append", default=[],
                       help="a second variant: settings changed from the first (repeat for more variants)")
    parser.add_argument("--clients", type=int, default=0, help="also ask with N concurrent HTTP clients")
    parser.add_argument("--duration", type=float, default=0, metavar="SECONDS",
                        help="with --clients: keep asking for this long (questions repeated), a client told 503 "
                             "waiting Retry-After and asking again; default: each question once")
    parser.add_argument("--out", default="eval/out/bench", help="report folder (default eval/out/bench)")
    parser.add_argument("--json", action="store_true", help="print report.json instead of the Markdown")

    def run(args: argparse.Namespace) -> int:
        from index.errors import ConfigError

        if not args.paths and not args.dataset:
            raise ConfigError("Give documents to benchmark (seedrag bench seeds/) or a data set "
                              f"(--dataset {'|'.join(DATASETS)}).")
        if args.paths and args.dataset:
            raise ConfigError("Give either documents or --dataset, not both.")
        if args.limit < 1 or args.clients < 0 or args.duration < 0:
            raise ConfigError("--limit must be at least 1, --clients and --duration at least 0.")
        if args.duration and not args.clients:
            raise ConfigError("--duration needs --clients N (the crowd that asks for that long).")
        base = settings_of(args)
        variants = [("current", base)] + [(" ".join(kv), changed(base, kv)) for kv in args.compare]
        report = bench(variants, paths=args.paths, dataset=args.dataset, questions_file=args.questions,
                       limit=args.limit, clients=args.clients, duration=args.duration)
        path = report.write(Path(args.out))
        if args.json:
            print((Path(args.out) / "report.json").read_text(encoding="utf-8"))
        else:
            print(path.read_text(encoding="utf-8"))
        print(f"report: {path}", file=sys.stderr)
        return 0

    return run


def changed(settings: Any, pairs: Sequence[str]) -> Any:
    """`settings` with KEY=VALUE pairs applied, parsed like SEEDRAG_KEY variables (bad keys/values: ConfigError)."""
    from index.errors import ConfigError
    from rag.settings import PREFIX, Settings

    known = [f.name for f in dataclasses.fields(Settings)]
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise ConfigError(f"--compare {pair!r}: expected KEY=VALUE, e.g. --compare reranker=none")
        if key not in known:
            raise ConfigError(f"--compare {pair!r}: unknown setting {key!r}. Known: {', '.join(known)}.")
        env[PREFIX + key.upper()] = value
    parsed = Settings.from_env(env)
    keys = [k[len(PREFIX):].lower() for k in env]  # parsed and checked like SEEDRAG_* variables
    return settings.replace(**{k: getattr(parsed, k) for k in keys})


def corpus(paths: Sequence[str], dataset: str | None, questions_file: str | None, limit: int,
           tmp: Path) -> tuple[list[Path], list[str]]:
    """(what to index, the questions to ask)."""
    from eval.suites.squad import spread

    if dataset == "seed":
        from eval.suites.seed import SEEDS, load_questions

        return [SEEDS], spread([q.question for q in load_questions()], limit)
    if dataset == "squad":
        from eval.suites.squad import load_squad, squad_paragraphs, squad_questions, write_corpus

        data = load_squad("v1.1")
        write_corpus(squad_paragraphs(data), tmp / "squad")
        return [tmp / "squad"], spread([q.question for q in squad_questions(data)], limit)
    if dataset == "scifact":
        from eval.datasets import load_beir
        from eval.suites.scifact import write_corpus as write_abstracts

        docs, queries, _ = load_beir("scifact")
        write_abstracts(docs, tmp / "scifact")
        return [tmp / "scifact"], spread([queries[k] for k in sorted(queries)], limit)
    folders = [Path(p) for p in paths]
    if questions_file:
        return folders, spread(read_questions(Path(questions_file)), limit)
    return folders, []  # made from the documents once they are indexed (`sentence_questions`)


def read_questions(path: Path) -> list[str]:
    from index.errors import ConfigError

    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the questions in {path}: {exc}. Give a UTF-8 text file.") from exc
    out = [json.loads(line)["question"] if line.startswith("{") else line for line in lines]
    if not out:
        raise ConfigError(f"{path} holds no questions: write one per line.")
    return out


def sentence_questions(rag: Any, limit: int) -> list[str]:
    """Questions made from the documents themselves when none are given: the first words of evenly spread
    sentences ("... ?"), so retrieval has something real to find."""
    from eval.suites.squad import spread
    from index.sentences import split_sentences

    sentences = [s.text for source in rag.documents() for doc in [rag.document(source)] if doc is not None
                 for s in split_sentences(doc.text, 0) if len(s.text.split()) >= 6]
    return [" ".join(s.split()[:10]).rstrip(".,;:") + "?" for s in spread(sentences, limit)]


def plain_encode(texts: Sequence[str], model_name: str) -> float:
    """Chunks/s of sentence-transformers' own encode (fp32 torch, batch 32, all cores) on `texts`."""
    from sentence_transformers import SentenceTransformer

    from index.embedding import resolve_model_path

    model = SentenceTransformer(resolve_model_path(model_name), device="cpu", local_files_only=True)
    model.encode(["warm up"], batch_size=32)
    started = time.perf_counter()
    model.encode(list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    return len(texts) / (time.perf_counter() - started)


def percentiles(values: Sequence[float], high: float = 0.95) -> tuple[float, float]:
    """(p50, the `high` percentile) in milliseconds."""
    ms = sorted(v * 1000 for v in values)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(high * (len(ms) - 1))))]


def concurrent_clients(rag: Any, questions: Sequence[str], clients: int, duration: float = 0,
                       settle_s: float = 5) -> dict[str, Any]:
    """Serve `rag` on a free loopback port (the real app), ask every question from `clients` threads; with
    `duration`, keep asking (the questions in turn) for that many seconds, a client told 503 waiting its
    Retry-After before the next question. RSS is read before, right after, and `settle_s` after the crowd."""
    from ui.server import create_app, in_thread

    with in_thread(create_app(rag)) as port:
        return _crowd(rag, port, questions, clients, duration, settle_s)


def _crowd(rag: Any, port: int, questions: Sequence[str], clients: int, duration: float,
           settle_s: float) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if rag.settings.api_token:
        headers["Authorization"] = f"Bearer {rag.settings.api_token}"
    pending = list(questions)
    lock = threading.Lock()
    latencies: list[float] = []
    failures = {"busy (503)": 0, "failed": 0}
    asked = 0

    def next_question() -> str | None:
        nonlocal asked
        with lock:
            if duration:
                if time.perf_counter() - crowd_started >= duration:
                    return None
                asked += 1
                return questions[asked % len(questions)]
            return pending.pop() if pending else None

    def client() -> None:
        while True:
            question = next_question()
            if question is None:
                return
            body = json.dumps({"question": question}).encode("utf-8")
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/ask", body, headers)
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    response.read()
                with lock:
                    latencies.append(time.perf_counter() - started)
            except urllib.error.HTTPError as exc:
                with lock:
                    failures["busy (503)" if exc.code == 503 else "failed"] += 1
                if exc.code == 503 and duration:  # as a polite client does: wait as told, then go on
                    time.sleep(float(exc.headers.get("Retry-After", "1")))
            except OSError:
                with lock:
                    failures["failed"] += 1

    health: list[float] = []
    done = threading.Event()

    def probe() -> None:  # /health while the crowd asks: it must not wait behind the answers
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/health", headers=headers)
        while not done.is_set():
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    response.read()
                health.append(time.perf_counter() - started)
            except OSError:
                failures["failed"] += 1
            done.wait(0.1)

    rss_before = rss_mb()
    crowd_started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    prober = threading.Thread(target=probe)
    for t in [*threads, prober]:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - crowd_started
    done.set()
    prober.join()
    rss_after = rss_mb()
    time.sleep(settle_s if duration else 0)  # what the burst's memory settles to
    rss_settled = rss_mb()
    p50, p95 = percentiles(latencies) if latencies else (float("nan"), float("nan"))
    p99 = percentiles(latencies, 0.99)[1] if latencies else float("nan")
    rss = f"{rss_before:.0f} / {rss_after:.0f}" + (f" / {rss_settled:.0f} ({settle_s:g} s later)" if duration else "")
    return {"clients": clients, "seconds": round(wall, 1), "answered": len(latencies),
            "answers/s": len(latencies) / wall, "p50 ms": p50, "p95 ms": p95, "p99 ms": p99,
            **failures, "health p50 / p99 ms": "%.1f / %.1f" % (percentiles(health, 0.99) if health else (0, 0)),
            "RSS before / after MB": rss}


def rss_mb() -> float:
    """This process's resident memory now (Linux /proc; NaN elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def bench(variants: Sequence[tuple[str, Any]], paths: Sequence[str] = (), dataset: str | None = None,
          questions_file: str | None = None, limit: int = DEFAULT_LIMIT, clients: int = 0,
          duration: float = 0) -> Report:
    from eval.scratch import scratch_index
    from index.chunking import chunk_document
    from rag.generate.registry import from_settings

    load_before = os.getloadavg()[0]
    table: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folders, questions = corpus(paths, dataset, questions_file, limit, Path(tmp))
        built: list[tuple[str, Any, Any]] = []
        scratches = []
        for n, (name, settings) in enumerate(variants):
            scratch = scratch_index(settings, f"bench_{n}", tmp)
            scratches.append(scratch)
            s = scratch.__enter__()
            rag, report = s.build(folders, generator=from_settings(s.settings))
            rag.warm_up()
            built.append((name, rag, report))
        try:
            first = built[0][1]
            if not questions:
                questions = sentence_questions(first, limit)
            docs = [d for d in map(first.document, first.documents()) if d is not None]
            texts = [c.text for d in docs for c in chunk_document(d, first.settings.chunk_tokens,
                                                                 first.settings.chunk_overlap)]
            yardstick = plain_encode(texts, first.settings.embedding_model) if texts else float("nan")
            timings: dict[str, dict[str, list[float]]] = {name: {"retrieve": [], "ask": []} for name, _, _ in built}
            for q in questions:  # alternate: every variant answers each question before the next one
                for name, rag, _ in built:
                    t0 = time.perf_counter()
                    rag.retrieve(q)
                    t1 = time.perf_counter()
                    answer = rag.ask(q)
                    t2 = time.perf_counter()
                    timings[name]["retrieve"].append(t1 - t0)
                    timings[name]["ask"].append(t2 - t1)
                    rows.append({"variant": name, "question": q, "retrieve_s": t1 - t0, "ask_s": t2 - t1,
                                 "refused": answer.refused})
            for name, rag, report in built:
                r50, r95 = percentiles(timings[name]["retrieve"])
                a50, a95 = percentiles(timings[name]["ask"])
                line = {"variant": name, "documents": len(docs), "chunks": report.chunks,
                        "ingest documents/s": report.added / report.embed_seconds if report.embed_seconds
                        else float("nan"),
                        "ingest chunks/s": report.embedded / report.embed_seconds if report.embed_seconds
                        else float("nan"),
                        "vs plain encode": (report.embedded / report.embed_seconds) / yardstick
                        if report.embed_seconds else float("nan"),
                        "retrieve p50 ms": r50, "retrieve p95 ms": r95, "ask p50 ms": a50, "ask p95 ms": a95}
                if clients:
                    crowd = concurrent_clients(rag, questions, clients, duration)
                    line.update({f"{k} (HTTP)": v for k, v in crowd.items()})
                table.append(line)
        finally:
            for scratch in scratches:
                scratch.__exit__(None, None, None)
    base = table[0]
    ratios = [{"variant": line["variant"], **{f"{k} ratio": line[k] / base[k] for k in
                                                ("ingest chunks/s", "retrieve p50 ms", "ask p50 ms", "ask p95 ms")
                                                if base[k]}} for line in table[1:]]
    summary = {"questions": len(questions), "plain sentence-transformers encode chunks/s": yardstick,
               "peak RSS MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "load average before / after": f"{load_before:.2f} / {os.getloadavg()[0]:.2f}",
               "source": dataset or ", ".join(map(str, paths))}
    tables = {"variants": table} if not ratios else {"variants": table, "ratios to the first": ratios}
    return Report("bench", summary, rows, tables={k: [{c: fmt(v) if isinstance(v, float) else v
                                                       for c, v in r.items()} for r in t] for k, t in tables.items()})


def main(argv: Sequence[str] | None = None) -> int:  # python -m eval.bench: the same as seedrag bench
    from ui.cli import main as cli

    return cli(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
