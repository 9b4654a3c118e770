"""`seedrag eval SUITE`: the evaluation harness as a subcommand of the `seedrag` command line.

The command line (`ui/cli.py`) does not import the eval package: this module registers the subcommand
through the entry-point group `seedrag.commands` (pyproject.toml), so the dependencies point one way.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(sub: Any, parents: list[argparse.ArgumentParser],
             settings_of: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], int]:
    """Add `eval` to the `seedrag` subparsers; returns its handler."""
    from eval.suites import SUITES

    ev = sub.add_parser("eval", parents=parents, help="run an evaluation suite and write a report")
    ev.add_argument("suite", help=", ".join(SUITES))
    ev.add_argument("--quick", action="store_true", help="a small sample, for a smoke test")
    ev.add_argument("--full", action="store_true", help="the full data set where a suite has a quick split")
    ev.add_argument("--limit", type=int, help="ask at most N questions (evenly spread over the set)")
    ev.add_argument("--out", default="eval/out", help="report folder (default eval/out/SUITE)")
    ev.add_argument("--embedding-cache", metavar="DIR",
                    help="keep document embeddings in DIR and reuse them in later runs (faster repeated evals)")

    def run(args: argparse.Namespace) -> int:
        from eval.suites import run_suite

        return run_suite(args.suite, settings=settings_of(args), quick=args.quick, full=args.full, out=args.out,
                         limit=args.limit, embedding_cache=args.embedding_cache)

    return run
