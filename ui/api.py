"""REST API under /api/v1: ask (JSON or server-sent events), retrieve, documents (list, read, upload, delete), health.

`install(app, rag)` adds the routes, the error handlers and `ApiGuard`, the middleware that checks the bearer
token (when `settings.api_token` is set) and the request body size before a route reads anything:

    POST /api/v1/ask              {"question", "k"?, "history"?, "stream"?} -> Answer.to_json() (or SSE)
    POST /api/v1/retrieve         {"query", "k"?}                          -> {"passages": [Hit.to_json()]}
    GET  /api/v1/documents                                                 -> {"documents": [{id, source, ...}]}
    GET  /api/v1/documents/{id}                                            -> {id, source, title, text, ...}
    POST /api/v1/documents        multipart "files" (one or more)          -> index counts, saved, skipped
    DELETE /api/v1/documents/{id}                                          -> {id, source, removed, file_deleted}
    GET  /api/v1/health                                                    -> {status, documents, chunks, ...}

Errors are JSON `{"detail": "<what is wrong and what to do>"}`: 401 token, 404 unknown document, 413 body too
large, 415 unsupported file type, 422 bad request or unusable file, 503 no usable index, or busy: every
answering slot taken and the queue full (`ui.admission`, with `Retry-After`; settings answer_workers and
answer_queue).
"""

from __future__ import annotations

import hmac
import json
import queue
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, FastAPI, File, HTTPException, Request, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index.errors import GeneratorError, IndexMismatchError, IndexNotFoundError, SeedragError, StoreError
from rag.conversation import Turn
from rag.settings import MAX_QUESTION_CHARS
from ui.admission import AnswerSlots, Busy
from ui.library import UploadRejected, add_files, document_id, remove_document

PREFIX = "/api/v1"
JSON_LIMIT = 64 * 1024          # bytes of a JSON request body
MULTIPART_SLACK = 64 * 1024     # multipart headers and boundaries on top of max_upload_mb
WORDS_PER_TOKEN_EVENT = 3


# ---- request and response models (they are the OpenAPI schema) ---------------------------------------------------
def turns(history: list[str | HistoryTurn]) -> list[str | Turn]:
    return [h if isinstance(h, str) else Turn(h.question, h.phrase) for h in history]


class HistoryTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: StrictStr = Field(max_length=MAX_QUESTION_CHARS)
    phrase: StrictStr = Field(default="", max_length=MAX_QUESTION_CHARS, description="the answer's highlight.text")


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: StrictStr = Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                                examples=["What is the range of the ATACMS missile?"])
    k: StrictInt | None = Field(default=None, ge=1, le=50, description="passages to retrieve (default: settings.k)")
    history: list[StrictStr | HistoryTurn] = Field(
        default_factory=list, max_length=50,
        description="earlier turns, oldest first: a question, or {question, phrase} with the answer phrase "
                    "(highlight.text) of its answer, so a follow-up can lean on the answer")
    stream: StrictBool = Field(default=False, description="answer as text/event-stream: token..., citations, done")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty; ask a question in words")
        return value


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: StrictStr = Field(min_length=1, max_length=MAX_QUESTION_CHARS, examples=["ATACMS range"])
    k: StrictInt | None = Field(default=None, ge=1, le=50)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is empty")
        return value


class CitationOut(BaseModel):
    """`quote == document(source).text[start:end]`, verified before it is returned."""

    model_config = ConfigDict(extra="allow")

    n: int = Field(description="the [n] marker in the answer text")
    source: str
    start: int
    end: int
    quote: str
    page: int | None = None


class PassageOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    chunk_id: str
    source: str
    text: str
    start: int
    end: int
    page: int | None = None
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None


class AskResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    answer: str = Field(description="answer text with [n] citation markers, or the refusal text")
    refused: bool
    citations: list[CitationOut]
    passages: list[PassageOut]
    question: str
    standalone_question: str
    support: float | None = None
    threshold: float | None = None
    mode: str = Field(description='"extractive" or "llm:<name>"')
    dropped_citations: int
    seconds: float
    fallback: str | None = Field(default=None, description="why an LLM answer was replaced (LLM mode only)")
    unsupported: list[str] = Field(default_factory=list, description="LLM sentences without support, removed")
    invalid_citations: list[int] = Field(default_factory=list, description="[n] markers naming no passage")
    ttft_s: float | None = None
    tokens_per_s: float | None = None


class RetrieveResponse(BaseModel):
    passages: list[PassageOut]


class DocumentInfo(BaseModel):
    id: str = Field(description="URL-safe id of the source: sha256(source)[:16]")
    source: str
    title: str = ""
    chars: int


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class DocumentText(DocumentInfo):
    text: str = Field(description="the indexed text; citation offsets index into it")
    pages: list[int] = Field(default_factory=list, description="PDF only: offset where page i+1 starts")


class SkippedOut(BaseModel):
    path: str
    reason: str


class UploadReport(BaseModel):
    added: int
    updated: int
    removed: int
    unchanged: int
    chunks: int
    documents: list[DocumentInfo] = Field(description="the uploaded files as indexed")
    skipped: list[SkippedOut] = Field(description="files of the documents folder that could not be indexed")


class DeleteReport(BaseModel):
    id: str
    source: str
    removed: bool
    file_deleted: bool = Field(description="the file was in the documents folder and was deleted")


class Health(BaseModel):
    status: str
    documents: int
    chunks: int
    model: str
    mode: str
    index: str


class ErrorOut(BaseModel):
    detail: str


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {401: "missing or wrong bearer token", 404: "no document with this id", 413: "request body too large",
            415: "unsupported file type", 422: "invalid request or unusable file", 503: "no usable index"}
    return {code: {"model": ErrorOut, "description": text[code]} for code in codes}


# ---- helpers -----------------------------------------------------------------------------------------------------
def token_ok(authorization: str | None, token: str) -> bool:
    """`authorization` is "Bearer <token>" (scheme case-insensitive), compared in constant time."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def word_groups(text: str, size: int = WORDS_PER_TOKEN_EVENT) -> list[str]:
    """`text` cut into pieces of `size` words (with their spaces) whose concatenation is exactly `text`."""
    words = [w for w in re.split(r"(?<=\s)(?=\S)", text) if w]
    return ["".join(words[i:i + size]) for i in range(0, len(words), size)]


def streamed_answer(rag: Any, body: Any) -> Iterator[str]:
    """SSE for one question: in LLM mode `event: draft` pieces as the model writes (unchecked), then the
    checked answer as `token` events, `citations` (the whole answer JSON) and `done`; `error` on failure."""
    pieces: queue.Queue[str | None] = queue.Queue()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["answer"] = rag.ask(body.question, k=body.k, history=turns(body.history), on_token=pieces.put)
        except SeedragError as exc:
            result["error"] = str(exc)
        finally:
            pieces.put(None)

    threading.Thread(target=work, daemon=True).start()
    while (piece := pieces.get()) is not None:
        yield _sse("draft", {"text": piece})
    if "error" in result:
        yield _sse("error", {"detail": result["error"]})
        return
    yield from sse_events(result["answer"].to_json())


def sse_events(answer: dict[str, Any]) -> Iterator[str]:
    """`event: token` per piece of answer text, then `event: citations` (the whole answer JSON), then `done`."""
    for piece in word_groups(answer["answer"]):
        yield _sse("token", {"text": piece})
    yield _sse("citations", answer)
    yield _sse("done", {})


def event_stream(events: Iterator[str], slots: AnswerSlots) -> StreamingResponse:
    """`events` (made in the thread pool) as a text/event-stream response that releases its admission slot
    when the last event is sent or the client goes away."""
    async def held() -> AsyncIterator[str]:
        try:
            async for event in iterate_in_threadpool(events):
                yield event
        finally:
            slots.release()

    return StreamingResponse(held(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"  # json.dumps: no raw newlines


def upload_limit(settings: Any) -> int:
    return int(settings.max_upload_mb * 1024 * 1024)


def redact(location: str) -> str:
    """A store location with any password in it replaced by ***."""
    if "://" not in location:
        return location
    parts = urlsplit(location)
    if parts.password is None:
        return location
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


# ---- routes ------------------------------------------------------------------------------------------------------
def answer_slots(settings: Any) -> AnswerSlots:
    """The server's one admission for answering (shared by /api/v1 and the OpenAI-compatible /v1)."""
    return AnswerSlots(settings.answer_workers, settings.answer_queue)


def router(rag: Any, lock: threading.Lock | None = None, slots: AnswerSlots | None = None) -> APIRouter:
    """The /api/v1 routes over `rag`. Routes are plain functions (run in the thread pool); `lock` serialises
    the writes (upload, delete) of this process; `slots` bounds the questions answered at once."""
    settings = rag.settings
    dependencies = [Security(_require_token(settings.api_token))] if settings.api_token else []
    r = APIRouter(prefix=PREFIX, dependencies=dependencies, tags=["seedrag"],
                  responses=_errors(401) if settings.api_token else None)
    _question_routes(r, rag, slots or answer_slots(settings))
    _document_routes(r, rag, lock or threading.Lock())
    _health_route(r, rag)
    return r


def _question_routes(r: APIRouter, rag: Any, slots: AnswerSlots) -> None:
    """POST /ask and /retrieve, admitted by `slots` (503 with Retry-After beyond them)."""
    async def admitted() -> None:
        try:
            await slots.acquire()
        except Busy as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from exc

    @r.post("/ask", response_model=AskResponse, responses={
        200: {"description": "the answer; with \"stream\": true a text/event-stream of `token` events "
                             "(data {\"text\": piece}), one `citations` event (data: the answer JSON) and `done`",
              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **_errors(413, 422, 503)})
    async def ask(body: AskRequest) -> Any:
        """Answer a question from the indexed documents, with verified citations, or refuse (503 with
        Retry-After when the server is busy)."""
        await admitted()
        if not body.stream:
            try:
                return await run_in_threadpool(
                    lambda: rag.ask(body.question, k=body.k, history=turns(body.history)).to_json())
            finally:
                slots.release()

        return event_stream(streamed_answer(rag, body), slots)

    @r.post("/retrieve", response_model=RetrieveResponse, responses=_errors(413, 422, 503))
    async def retrieve(body: RetrieveRequest) -> Any:
        """The k passages that best match the query, best first (503 with Retry-After when busy)."""
        await admitted()
        try:
            hits = await run_in_threadpool(rag.retrieve, body.query, k=body.k)
        finally:
            slots.release()
        return {"passages": [h.to_json() for h in hits]}


def _document_routes(r: APIRouter, rag: Any, write_lock: threading.Lock) -> None:
    """The documents: list, read, upload, delete (writes serialised by `write_lock`)."""
    settings = rag.settings

    def docs_folder() -> Path:
        return Path(settings.docs_dir).expanduser().resolve()

    def find(doc_id: str) -> str:
        source = next((s for s in rag.documents() if document_id(s) == doc_id), None)
        if source is None:
            raise HTTPException(404, f"No indexed document has the id {doc_id!r}. List them: GET {PREFIX}/documents")
        return source

    def info(source: str) -> dict[str, Any]:
        doc = rag.document(source)
        return {"id": document_id(source), "source": source, "title": doc.title if doc else "",
                "chars": len(doc.text) if doc else 0}

    @r.get("/documents", response_model=DocumentList)
    def documents() -> Any:
        """The indexed documents."""
        return {"documents": [info(s) for s in rag.documents()]}

    @r.get("/documents/{doc_id}", response_model=DocumentText, responses=_errors(404))
    def document(doc_id: str) -> Any:
        """One indexed document's text: citation and passage offsets index into `text`."""
        source = find(doc_id)
        doc = rag.document(source)
        if doc is None:
            raise HTTPException(404, f"The document {source!r} was removed meanwhile.")
        return {**info(source), "text": doc.text, "pages": list(doc.pages)}

    @r.post("/documents", response_model=UploadReport, responses=_errors(413, 415, 422, 503))
    def upload(files: Annotated[list[UploadFile], File(description="one or more documents (.txt .md .html "
                                                                    ".pdf .docx .epub .csv ...)")]) -> Any:
        """Save files into the documents folder and index them (only new or changed files are embedded).

        Every file is checked first (name, type, size, readable text); if one fails, none is saved."""
        try:
            report, sources = add_files(rag, docs_folder(), [(f.filename, f.file) for f in files],
                                        upload_limit(settings), write_lock)
        except UploadRejected as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        return {**report.counts(), "documents": [info(source) for source in sources],
                "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped]}

    @r.delete("/documents/{doc_id}", response_model=DeleteReport, responses=_errors(404, 503))
    def delete(doc_id: str) -> Any:
        """Remove a document from the index; its file is deleted too when it is in the documents folder."""
        source = find(doc_id)
        removed, deleted = remove_document(rag, source, docs_folder(), write_lock)
        return {"id": doc_id, "source": source, "removed": removed, "file_deleted": deleted}


def _health_route(r: APIRouter, rag: Any) -> None:
    @r.get("/health", response_model=Health)
    def health() -> Any:
        """Liveness and what is served."""
        return {"status": "ok", "documents": len(rag.documents()), "chunks": rag.store.chunk_count(),
                "model": rag.embedder.name, "mode": rag.mode, "index": redact(rag.store.location)}


BEARER = HTTPBearer(auto_error=False, description="the server's SEEDRAG_API_TOKEN")


def _require_token(token: str) -> Any:
    # ApiGuard already checked the header before the body was read; this makes the check visible in OpenAPI
    # and holds when the router is used without the middleware.
    def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]) -> None:
        given = f"{credentials.scheme} {credentials.credentials}" if credentials else None
        if not token_ok(given, token):
            raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})

    return check


UNAUTHORIZED = "Missing or wrong API token. Send the header: Authorization: Bearer <SEEDRAG_API_TOKEN>"


# ---- errors and the guard ----------------------------------------------------------------------------------------
def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors:
        if e.get("type") == "json_invalid":
            parts.append(f"the body is not valid JSON ({e.get('ctx', {}).get('error', 'decode error')})")
            continue
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = list(exc.errors()) if isinstance(exc, RequestValidationError) else []
    slim = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in errors]
    return JSONResponse({"detail": _validation_message(errors), "errors": slim}, status_code=422)


BODY_PARSE_FAILED = "There was an error parsing the body"  # FastAPI's 400 when the JSON parser itself fails


async def _on_http_error(request: Request, exc: Exception) -> Any:
    """FastAPI's own errors as they are, except its 400 for a body the JSON parser gave up on (nested thousands
    deep: Python's parser recurses) under /api/v1: a 422 like every other unusable body."""
    from fastapi.exception_handlers import http_exception_handler

    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == BODY_PARSE_FAILED and under(request.url.path, PREFIX):
        return JSONResponse({"detail": "Invalid request: the body is not valid JSON (it could not be parsed; "
                                       "is it nested too deeply?)"}, status_code=422)
    return await http_exception_handler(request, exc)


async def _on_seedrag_error(request: Request, exc: Exception) -> JSONResponse:
    unavailable = (IndexNotFoundError, IndexMismatchError, StoreError, GeneratorError)
    return JSONResponse({"detail": str(exc)}, status_code=503 if isinstance(exc, unavailable) else 422)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int, upload: bool = False) -> None:
        hint = " (the upload limit is SEEDRAG_MAX_UPLOAD_MB)" if upload else ""
        super().__init__(413, f"The request body is larger than the limit of {limit} bytes{hint}.")


def detail_body(status: int, detail: str) -> dict[str, Any]:
    """The JSON of an /api/v1 error: {"detail": ...}."""
    return {"detail": detail}


def under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class ApiGuard:
    """ASGI middleware for the paths under `prefix` (/api/v1 by default): bearer token first, then the body
    size (Content-Length, and the bytes actually received for chunked bodies). Other paths (the Gradio chat)
    pass through untouched. `error(status, detail)` gives the JSON of a refusal (the OpenAI-compatible API has
    its own shape); `upload_path` is the one path whose body may be as large as `upload_limit`."""

    def __init__(self, app: ASGIApp, token: str | None, upload_limit: int, json_limit: int = JSON_LIMIT,
                 prefix: str = PREFIX, error: Callable[[int, str], dict[str, Any]] = detail_body,
                 upload_path: str | None = f"{PREFIX}/documents") -> None:
        self.app = app
        self.token = token
        self.upload_limit = upload_limit
        self.json_limit = json_limit
        self.prefix = prefix
        self.error = error
        self.upload_path = upload_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not under(path, self.prefix):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.token and not token_ok(headers.get("authorization"), self.token):
            await self._reply(scope, receive, send, 401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
            return
        upload = scope["method"] == "POST" and path.rstrip("/") == self.upload_path
        limit = self.upload_limit if upload else self.json_limit
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._reply(scope, receive, send, 413, BodyTooLarge(limit, upload).detail)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, upload)  # FastAPI re-raises HTTPExceptions from body reading: a 413
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await self._reply(scope, receive, send, 413, exc.detail)

    async def _reply(self, scope: Scope, receive: Receive, send: Send, status: int, detail: str,
                     headers: dict[str, str] | None = None) -> None:
        await JSONResponse(self.error(status, detail), status_code=status, headers=headers)(scope, receive, send)


def answer_unknown_paths(app: FastAPI, known: Sequence[Any], prefix: str = PREFIX,
                         error: Callable[[int, str], dict[str, Any]] = detail_body) -> None:
    """Under `prefix`, a known path asked with another method is 405 (with `Allow`) and an unknown path a JSON
    404, instead of falling through to the chat mounted at / (whose 404 is a web page)."""
    from starlette.routing import Match

    @app.api_route(prefix + "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                   include_in_schema=False)
    def unknown(request: Request, rest: str) -> JSONResponse:
        allowed = sorted({m for r in known for m in (getattr(r, "methods", None) or ())
                          if r.matches({**request.scope, "method": m})[0] == Match.FULL})
        if allowed:
            return JSONResponse(error(405, f"{request.method} is not allowed on {request.url.path}; use "
                                           f"{' or '.join(allowed)}."), status_code=405,
                                headers={"Allow": ", ".join(allowed)})
        return JSONResponse(error(404, f"No API route {request.url.path}. See /api/docs for the routes."),
                            status_code=404)


def install(app: FastAPI, rag: Any, lock: threading.Lock | None = None, slots: AnswerSlots | None = None) -> FastAPI:
    """Add the /api/v1 routes, their error handlers and `ApiGuard` to `app`; `lock` serialises writes,
    `slots` (default: a new `answer_slots`) bounds the questions answered at once."""
    settings = rag.settings
    api = router(rag, lock, slots)
    app.include_router(api)
    answer_unknown_paths(app, api.routes)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(SeedragError, _on_seedrag_error)
    app.add_middleware(ApiGuard, token=settings.api_token, upload_limit=upload_limit(settings) + MULTIPART_SLACK)
    return app
