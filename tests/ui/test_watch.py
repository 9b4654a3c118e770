"""`seedrag index --watch` beside a running `seedrag serve`: a file written into the watched folder is answered
from within seconds, a deleted file's chunks are gone, and no question fails meanwhile."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.servers import ATACMS, env, serve

NEW_SOURCE = "seeds/zorblat.md"
ZORBLAT = ("# The Zorblat festival\n\n"
           "The Zorblat festival is held every autumn in the mountain village of Quellmoor. During the\n"
           "festival, the villagers float lantern boats made of kelp paper down the river Ysk. The oldest\n"
           "lantern boat on record was built by the weaver Ottilie Brask in 1821.\n")
QUESTION = "What are the lantern boats of the Zorblat festival made of?"
WITHIN_SECONDS = 10


def _until(check: Any, seconds: float) -> float:
    """Seconds until `check()` is true, polling; fails after `seconds`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.2)
    return time.monotonic() - started


def test_a_watched_folder_is_answered_from_by_a_running_server(workspace: Path, tmp_path: Path) -> None:
    root = tmp_path / "watched"
    shutil.copytree(workspace / "seeds", root / "seeds")
    shutil.copytree(workspace / "index", root / "index")  # built from seeds/ by the package fixture
    watcher = subprocess.Popen([sys.executable, "-m", "ui.cli", "index", "seeds", "--index-dir", "index", "--watch"],
                               cwd=root, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    for stream in (watcher.stdout, watcher.stderr):
        threading.Thread(target=lambda s=stream: lines.extend(iter(s.readline, "")), daemon=True).start()
    failures: list[str] = []
    answered = 0
    stop = threading.Event()
    try:
        _until(lambda: any("watching" in line for line in lines) or watcher.poll() is not None, 300)
        assert watcher.poll() is None, "".join(lines)
        with serve(root, "index", "docs") as url, httpx.Client(base_url=url, timeout=60) as api:
            def crowd() -> None:  # questions all the while; every one must be answered
                nonlocal answered
                while not stop.is_set():
                    r = api.post("/api/v1/ask", json={"question": ATACMS})
                    if r.status_code != 200 or r.json()["refused"]:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    answered += 1

            asker = threading.Thread(target=crowd, daemon=True)
            asker.start()

            def cited() -> bool:
                answer = api.post("/api/v1/ask", json={"question": QUESTION}).json()
                return not answer["refused"] and answer["citations"][0]["source"] == NEW_SOURCE

            assert not cited()
            (root / NEW_SOURCE).write_text(ZORBLAT)
            took = _until(cited, WITHIN_SECONDS)
            print(f"cited {took:.1f} s after the write")  # the README quotes this (pytest -s)
            answer = api.post("/api/v1/ask", json={"question": QUESTION}).json()
            assert "kelp paper" in answer["answer"]

            (root / NEW_SOURCE).unlink()

            def gone() -> bool:
                return NEW_SOURCE not in {d["source"] for d in api.get("/api/v1/documents").json()["documents"]}

            print(f"gone {_until(gone, WITHIN_SECONDS):.1f} s after the delete")
            hits = api.post("/api/v1/retrieve", json={"query": "Zorblat lantern boats kelp paper", "k": 10}).json()
            assert all(h["source"] != NEW_SOURCE for h in hits["passages"])
            stop.set()
            asker.join(timeout=120)
        assert not failures and answered > 0
        assert took < WITHIN_SECONDS
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=30) in (0, 130)
        text = "".join(lines)
        path = (root / NEW_SOURCE).resolve()
        assert f"seedrag: added {path}" in text and f"seedrag: deleted {path}" in text
        assert "added 1, updated 0, removed 0" in text and "added 0, updated 0, removed 1" in text
    finally:
        stop.set()
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
