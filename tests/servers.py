"""Real `seedrag serve` processes on loopback ports for the tests of ui/ (REST, OpenAI-compatible, MCP, watch).

`serve(root, index, docs, ...)` starts one over an index folder of `root` and yields its URL once
/api/v1/health answers; the package-scoped fixtures in tests/ui/conftest.py keep two running for all of tests/ui.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
TOKEN = "test-token-5f1c9a"
ATACMS = "What is the range of the ATACMS missile?"
MAX_UPLOAD_MB = 1
STARTUP_SECONDS = 300


def env(**extra: str) -> dict[str, str]:
    """This environment without SEEDRAG_* settings, offline, plus `extra`."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("SEEDRAG_")}
    out.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", **extra)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seedrag(*args: str, cwd: Path, timeout: float = 900, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """`seedrag ARGS` run to its end in `cwd`."""
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], cwd=cwd, env=env(**extra_env),
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class Started:
    proc: subprocess.Popen[Any]
    url: str
    log_path: Path
    headers: dict[str, str]


def start(root: Path, index: str, docs: str, token: str | None = None, store: str | None = None,
          **more_env: str) -> Started:
    """Start a `seedrag serve` of `root/index` (or `store`) with `root/docs` as its documents folder."""
    port = free_port()
    server_env = env(SEEDRAG_DOCS_DIR=str(root / docs), SEEDRAG_MAX_UPLOAD_MB=str(MAX_UPLOAD_MB),
                     **({"SEEDRAG_API_TOKEN": token} if token else {}), **more_env)
    log_path = root / f"server-{port}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "serve", "--port", str(port), "--index-dir", index,
             *(["--store", store] if store else [])],
            cwd=root, env=server_env, stdout=log, stderr=subprocess.STDOUT,
        )
    return Started(proc, f"http://127.0.0.1:{port}", log_path, {"Authorization": f"Bearer {token}"} if token else {})


def ready(server: Started) -> None:
    """Wait until `server` answers /api/v1/health (or fail with its log)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(f"seedrag serve exited with {server.proc.returncode}:\n{server.log_path.read_text()}")
        try:
            health = httpx.get(f"{server.url}/api/v1/health", headers=server.headers, timeout=5)
        except httpx.TransportError:
            health = None
        if health is not None:
            assert health.status_code == 200, health.text
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"seedrag serve did not answer in {STARTUP_SECONDS} s:\n{server.log_path.read_text()}")
        time.sleep(0.25)


@contextmanager
def serving(root: Path, *specs: dict[str, Any]) -> Iterator[list[str]]:
    """Servers started side by side (each spec: the arguments of `start`), their URLs once all answer."""
    started: list[Started] = []
    try:
        for spec in specs:
            started.append(start(root, **spec))
        for server in started:
            ready(server)
        yield [server.url for server in started]
    finally:
        for server in started:
            stop(server.proc)


@contextmanager
def serve(root: Path, index: str, docs: str, token: str | None = None, store: str | None = None,
          **more_env: str) -> Iterator[str]:
    """One `seedrag serve` (see `start`), stopped after."""
    with serving(root, dict(index=index, docs=docs, token=token, store=store, **more_env)) as (url,):
        yield url


def stop(proc: subprocess.Popen[Any]) -> None:
    """Terminate `proc`, killing it if it does not end within 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

