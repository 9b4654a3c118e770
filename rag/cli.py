"""The `seedrag` command: index, ask, serve, eval.

Heavy libraries load inside the commands, so `seedrag --help` is instant. A `SeedragError` becomes
one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from index.errors import SeedragError

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", help="index folder (default .seedrag, or SEEDRAG_INDEX_DIR)")
    common.add_argument("--store", help="postgresql://... to use PostgreSQL instead of the FAISS folder")

    p = argparse.ArgumentParser(prog="seedrag", description="Offline question answering over your documents.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ix = sub.add_parser("index", parents=[common], help="index documents (only new or changed files are embedded)")
    ix.add_argument("paths", nargs="*", help="files or folders (default: seeds/ or SEEDRAG_DOCS_DIR)")
    ix.add_argument("--rebuild", action="store_true", help="drop the index and build it again")
    ix.add_argument("--json", action="store_true", help="print the counts as JSON")

    ask = sub.add_parser("ask", parents=[common], help="answer a question from the indexed documents")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, help="passages to retrieve (default 5)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")

    rm = sub.add_parser("remove", parents=[common], help="remove documents from the index by source name")
    rm.add_argument("sources", nargs="+")

    ls = sub.add_parser("documents", parents=[common], help="list the indexed documents")
    ls.add_argument("--json", action="store_true")

    serve = sub.add_parser("serve", parents=[common], help="serve the web chat and the REST API")
    serve.add_argument("--host", help="default 127.0.0.1")
    serve.add_argument("--port", type=int, help="default 7860")

    ev = sub.add_parser("eval", parents=[common], help="run an evaluation suite and write a report")
    ev.add_argument("suite", help="seed, scifact, squad, squad2 or calibrate")
    ev.add_argument("--quick", action="store_true", help="a small sample, for a smoke test")
    ev.add_argument("--full", action="store_true", help="the full data set where a suite has a quick split")
    ev.add_argument("--limit", type=int, help="ask at most N questions (evenly spread over the set)")
    ev.add_argument("--out", default="eval/out", help="report folder (default eval/out/SUITE)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(_COMMANDS[args.command](args) or 0)
    except SeedragError as exc:
        print(f"seedrag: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("seedrag: interrupted; the index is unchanged unless a write had finished.", file=sys.stderr)
        return 130


def _settings(args: argparse.Namespace, **more: Any) -> Any:
    from rag.settings import Settings

    return Settings.from_env(index_dir=args.index_dir, store=args.store, **more)


def _rag(args: argparse.Namespace) -> Any:
    from rag.engine import RAG

    return RAG.open(settings=_settings(args))


def cmd_index(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rag.engine import RAG

    settings = _settings(args)
    paths = args.paths or [settings.docs_dir]
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr, disable=args.json)
        bar.update(done - bar.n)

    report = RAG.create(settings=settings, rebuild=args.rebuild).index(paths, rebuild=args.rebuild, progress=progress)
    if bar is not None:
        bar.close()
    for skipped in report.skipped:
        print(f"seedrag: warning: skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.counts()))
    else:
        c = report.counts()
        rate = f", {report.embedded / report.embed_seconds:.1f} chunks/s" if report.embedded else ""
        print(f"added {c['added']}, updated {c['updated']}, removed {c['removed']}, unchanged {c['unchanged']}; "
              f"{c['chunks']} chunks in {settings.store_location} ({report.seconds:.1f} s{rate})")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    answer = _rag(args).ask(args.question, k=args.k)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return 0
    print(answer.text)
    for c in answer.citations:
        where = f"{c.source}:{c.start}-{c.end}" + (f" (page {c.page})" if c.page else "")
        print(f"  [{c.n}] {where}: \"{c.quote}\"")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    removed = _rag(args).remove(args.sources)
    print(f"removed {removed} of {len(args.sources)}")
    return 0 if removed == len(args.sources) else 1


def cmd_documents(args: argparse.Namespace) -> int:
    docs = _rag(args).documents()
    print(json.dumps(docs) if args.json else "\n".join(docs))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.server import serve

    serve(_settings(args, host=args.host, port=args.port))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.suites import run_suite

    return run_suite(args.suite, settings=_settings(args), quick=args.quick, full=args.full, out=args.out,
                     limit=args.limit)


_COMMANDS = {"index": cmd_index, "ask": cmd_ask, "remove": cmd_remove, "documents": cmd_documents,
             "serve": cmd_serve, "eval": cmd_eval}

if __name__ == "__main__":
    sys.exit(main())
