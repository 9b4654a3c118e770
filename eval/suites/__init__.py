"""Named evaluation suites. Each module has `run(settings, quick, full) -> Report`."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from index.errors import ConfigError

SUITES = {
    "seed": "eval.suites.seed",
    "squad": "eval.suites.squad",
    "squad2": "eval.suites.squad2",
    "scifact": "eval.suites.scifact",
    "calibrate": "eval.suites.calibrate",
}


def run_suite(name: str, settings: Any, quick: bool = False, full: bool = False, out: str = "eval/out",
              limit: int | None = None) -> int:
    if name not in SUITES:
        raise ConfigError(f"Unknown suite {name!r}. Known suites: {', '.join(SUITES)}.")
    module = importlib.import_module(SUITES[name])
    kwargs = {"limit": limit} if limit is not None else {}
    if limit is not None and "limit" not in module.run.__code__.co_varnames:
        raise ConfigError(f"The {name} suite has no --limit; run it without.")
    report = module.run(settings, quick=quick, full=full, **kwargs)
    folder = Path(out) / name
    path = report.write(folder)
    from eval.report import fmt

    width = max(len(k) for k in report.summary)
    for key, value in report.summary.items():
        print(f"{key:<{width}}  {fmt(value)}")
    print(f"report: {path}", file=sys.stderr)
    return 0
