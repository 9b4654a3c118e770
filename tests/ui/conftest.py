"""The servers of tests/ui, started once for the package: one open (every feature), one with
SEEDRAG_API_TOKEN (authentication only), over copies of one index of the seed article built by `seedrag index`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import SEEDS, TOKEN, seedrag, serve


@pytest.fixture(scope="package")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root/seeds (a copy of seeds/), root/index (built by `seedrag index`), root/index-secured (a copy)."""
    root = tmp_path_factory.mktemp("api")
    shutil.copytree(SEEDS, root / "seeds")
    done = seedrag("index", "seeds", "--index-dir", "index", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["added"] == 1
    shutil.copytree(root / "index", root / "index-secured")
    return root


@pytest.fixture(scope="package")
def server(workspace: Path) -> Iterator[str]:
    with serve(workspace, "index", "docs") as url:
        yield url


@pytest.fixture(scope="package")
def secured(workspace: Path) -> Iterator[str]:
    with serve(workspace, "index-secured", "docs-secured", token=TOKEN) as url:
        yield url


@pytest.fixture(scope="package")
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=180) as client:
        yield client
