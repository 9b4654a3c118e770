"""REST routes under /api/v1: ask, retrieve, documents, health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from index.errors import SeedragError


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    k: int | None = Field(default=None, ge=1, le=100)
    history: list[str] = Field(default_factory=list)


class RetrieveRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    k: int | None = Field(default=None, ge=1, le=100)


def router(rag: Any) -> APIRouter:
    r = APIRouter(prefix="/api/v1")

    @r.post("/ask")
    def ask(body: AskRequest) -> dict[str, Any]:
        try:
            return dict(rag.ask(body.question, k=body.k, history=body.history).to_json())
        except SeedragError as exc:
            raise HTTPException(422, str(exc)) from exc

    @r.post("/retrieve")
    def retrieve(body: RetrieveRequest) -> dict[str, Any]:
        try:
            return {"passages": [h.to_json() for h in rag.retrieve(body.query, k=body.k)]}
        except SeedragError as exc:
            raise HTTPException(422, str(exc)) from exc

    @r.get("/documents")
    def documents() -> dict[str, Any]:
        return {"documents": rag.documents()}

    @r.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "documents": len(rag.documents()), "chunks": rag.store.chunk_count(),
                "model": rag.embedder.name, "mode": "extractive"}

    return r
