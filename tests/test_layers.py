"""The packages depend one way: index <- rag <- ui <- eval (each may import only those before it)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["index", "rag", "ui", "eval"]


def imports(path: Path) -> set[str]:
    """Top-level packages of the project that `path` imports, anywhere in the file (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(LAYERS)


def upward_imports(root: Path = ROOT) -> list[str]:
    bad = []
    for rank, package in enumerate(LAYERS):
        allowed = set(LAYERS[: rank + 1])
        for path in sorted((root / package).rglob("*.py")):
            for target in sorted(imports(path) - allowed):
                bad.append(f"{path.relative_to(root)} imports {target}")
    return bad


def test_no_module_imports_upward():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path):
    for package in LAYERS:
        (tmp_path / package).mkdir()
    (tmp_path / "index" / "bad.py").write_text("def f():\n    from rag.engine import RAG\n", encoding="utf-8")
    (tmp_path / "ui" / "ok.py").write_text("import rag\nfrom index import errors\n", encoding="utf-8")
    (tmp_path / "rag" / "cli.py").write_text("import eval.suites\n", encoding="utf-8")
    assert upward_imports(tmp_path) == ["index/bad.py imports rag", "rag/cli.py imports eval"]
