"""One server for the chat (Gradio, at /) and the REST API (/api/v1), run by uvicorn."""

from __future__ import annotations

import os
from typing import Any


def create_app(rag: Any) -> Any:
    import gradio as gr
    from fastapi import FastAPI

    from ui.api import router
    from ui.app import build_app

    api = FastAPI(title="seedrag", version="1", docs_url="/api/docs")
    api.state.rag = rag
    api.include_router(router(rag))
    return gr.mount_gradio_app(api, build_app(rag), path="/")


def serve(settings: Any) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import uvicorn

    from rag.engine import RAG

    rag = RAG.open(settings=settings)
    print(f"seedrag: serving the chat on http://{settings.host}:{settings.port} (API under /api/v1)", flush=True)
    uvicorn.run(create_app(rag), host=settings.host, port=settings.port, log_level="warning")
