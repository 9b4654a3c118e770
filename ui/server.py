"""One server for the chat (Gradio, at /) and the REST API (/api/v1, see ui/api.py), run by uvicorn.

The API token (SEEDRAG_API_TOKEN) protects /api/v1/* only. The chat at / and Gradio's own API under
/gradio_api/ are open to whoever can reach the port: keep the default host 127.0.0.1, or put the server behind a
reverse proxy that authenticates.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
from typing import Any


def create_app(rag: Any) -> Any:
    import gradio as gr
    from fastapi import FastAPI

    from ui.api import install, upload_limit
    from ui.app import build_app

    api = FastAPI(title="seedrag", version="1", docs_url="/api/docs", redoc_url=None,
                  description="Question answering over your documents with verified citations. "
                              "See /api/docs for the REST API under /api/v1.")
    api.state.rag = rag
    lock = threading.Lock()  # one writer at a time, whether the upload comes from the chat or the API
    install(api, rag, lock)
    return gr.mount_gradio_app(api, build_app(rag, lock), path="/", max_file_size=upload_limit(rag.settings))


def serve(settings: Any) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import uvicorn

    from rag.engine import RAG

    rag = RAG.open(settings=settings)
    rag.warm_up()  # the models and the BM25 index load now, not on the first user's question
    if not _loopback(settings.host):
        print(f"seedrag: warning: listening on {settings.host}: the chat at / is open to the network"
              + ("" if settings.api_token else ", and so is /api/v1 (set SEEDRAG_API_TOKEN)"), file=sys.stderr)
    print(f"seedrag: serving the chat on http://{settings.host}:{settings.port} (API under /api/v1, "
          f"docs at /api/docs)", flush=True)
    uvicorn.run(create_app(rag), host=settings.host, port=settings.port, log_level="warning")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
