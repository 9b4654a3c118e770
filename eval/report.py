"""Reports: report.json (everything), report.md (the tables people read), PNG plots beside them."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Report:
    """What a suite measured: summary numbers, per-question rows, and optional extra tables."""

    suite: str
    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)

    def write(self, out: Path) -> Path:
        out.mkdir(parents=True, exist_ok=True)
        meta = {"date": time.strftime("%Y-%m-%d"), "machine": machine()}
        (out / "report.json").write_text(json.dumps(
            {"suite": self.suite, **meta, "summary": self.summary, "tables": self.tables, "rows": self.rows},
            indent=1, ensure_ascii=False, default=str))
        lines = [f"# seedrag eval {self.suite}", "", f"{meta['date']}, {meta['machine']}", "",
                 markdown_table([{"metric": k, "value": fmt(v)} for k, v in self.summary.items()])]
        for name, table in self.tables.items():
            lines += ["", f"## {name}", "", markdown_table(table)]
        lines += [f"\n![{p}]({p})" for p in self.plots]
        (out / "report.md").write_text("\n".join(lines) + "\n")
        return out / "report.md"


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "(no rows)"
    cols = list(rows[0])
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols)
    body = "\n".join("| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows)
    return head + "\n" + body
