"""One server for the chat (Gradio, at /), the REST API (/api/v1, see ui/api.py) and the OpenAI-compatible API
(/v1, see ui/openai_api.py), run by uvicorn.

With a token (SEEDRAG_API_TOKEN) the whole server needs it (`ui.auth`): /api/v1/* the bearer header, the chat,
Gradio's own API under /gradio_api/ and the docs the header or the session cookie of the login page. Without
one, everything is open to whoever can reach the port: keep the default host 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

SHUTDOWN_SECONDS = 2  # how long a stop (Ctrl-C, SIGTERM) waits for open connections before closing them


def create_app(rag: Any) -> Any:
    import gradio as gr
    from fastapi import FastAPI

    from ui import openai_api
    from ui.api import PREFIX, answer_slots, install, upload_limit
    from ui.app import build_app
    from ui.auth import SiteGuard

    api = FastAPI(title="seedrag", version="1", docs_url="/api/docs", redoc_url=None,
                  description="Question answering over your documents with verified citations. "
                              "See /api/docs for the REST API under /api/v1.")
    api.state.rag = rag
    lock = threading.Lock()  # one writer at a time, whether the upload comes from the chat or the API
    slots = answer_slots(rag.settings)  # one admission for /api/v1 and /v1
    install(api, rag, lock, slots)
    openai_api.install(api, rag, slots)
    app = gr.mount_gradio_app(api, build_app(rag, lock, slots), path="/", max_file_size=upload_limit(rag.settings))
    app.add_middleware(SiteGuard, token=rag.settings.api_token,  # outermost: before Gradio sees a request
                       programs=(PREFIX, openai_api.OPENAI_PREFIX))
    return app


def serve(settings: Any) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import uvicorn

    from rag.engine import RAG

    rag = RAG.open(settings=settings)
    rag.warm_up()  # the models and the BM25 index load now, not on the first user's question
    if not _loopback(settings.host):
        if not settings.api_token:
            print(f"seedrag: warning: listening on {settings.host}: the chat, its uploads and /api/v1 are open to "
                  "the network; set SEEDRAG_API_TOKEN to require a token everywhere", file=sys.stderr)
    print(f"seedrag: serving the chat on http://{settings.host}:{settings.port} (API under /api/v1, "
          f"OpenAI-compatible under /v1, docs at /api/docs)", flush=True)
    # open chat pages hold streams (Gradio's heartbeat): without a bound, a stop waits for them to go away
    uvicorn.run(create_app(rag), host=settings.host, port=settings.port, log_level="warning",
                timeout_graceful_shutdown=SHUTDOWN_SECONDS)


@contextlib.contextmanager
def in_thread(app: Any, start_seconds: float = 30) -> Iterator[int]:
    """`app` served by uvicorn in a thread of this process on a free loopback port (yielded), stopped after:
    for benchmarks and tests that need a real HTTP server beside the engine they hold."""
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=SHUTDOWN_SECONDS))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_seconds
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port} within {start_seconds:g} s")
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
