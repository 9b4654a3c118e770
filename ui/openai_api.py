"""The OpenAI-compatible chat API under /v1, for the chat front ends and SDKs that speak OpenAI's shape (Open
WebUI, LibreChat, LM Studio, Continue, the `openai` package):

    GET  /v1/models             -> {"object": "list", "data": [{"id": "seedrag-extractive", ...}, ...]}
    GET  /v1/models/{id}        -> {"id", "object": "model", "created", "owned_by"}
    POST /v1/chat/completions   {"model", "messages", "stream"?, "max_tokens"?, ...} -> a chat.completion, or
                                with "stream": true chat.completion.chunk server-sent events, then data: [DONE]

One model per answer mode: `seedrag-extractive` always, `seedrag-llm` when the server runs with an LLM
(`seedrag serve --llm ...`). The last user message is the question; the earlier user messages are the
history, each with the bold answer phrase of the assistant reply after it, so follow-ups ("and how far can it
fly?") are resolved as in the chat. The reply's content is the answer with its [n] markers and the answer
phrase in **bold**, then a "Sources:" list; the verified citations travel as JSON in the extra field
`citations`, and `seedrag` says whether it was refused, the confidence, the mode and the question searched:
on the completion, and on the last streamed chunk. A stream carries the checked answer only (an LLM's
unchecked draft is not sent: OpenAI's stream cannot take text back). Sampling parameters (temperature,
top_p, ...) are accepted and ignored; `max_tokens` cuts the content (finish_reason "length"); n must be 1.

Errors are OpenAI's JSON, {"error": {"message", "type", "param", "code"}}: 400 bad request, 401 token (the
same bearer token as /api/v1), 404 unknown model, 413 body too large, 503 busy (with Retry-After) or no
usable index.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError
from starlette.concurrency import run_in_threadpool

from index.errors import GeneratorError, IndexMismatchError, IndexNotFoundError, SeedragError, StoreError
from index.tokens import count_tokens, get_encoding
from rag.conversation import Turn
from ui.admission import AnswerSlots, Busy
from ui.api import ApiGuard, answer_slots, answer_unknown_paths, event_stream, word_groups

OPENAI_PREFIX = "/v1"
EXTRACTIVE_MODEL = "seedrag-extractive"
LLM_MODEL = "seedrag-llm"
JSON_LIMIT = 1024 * 1024  # chat front ends send the whole conversation each time
MAX_MESSAGES = 200
MAX_HISTORY = 50
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)


# ---- errors ------------------------------------------------------------------------------------------------------
class OpenAIError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.headers = status, message, param, code, headers

    def response(self) -> JSONResponse:
        return JSONResponse(error_body(self.status, self.message, self.param, self.code), status_code=self.status,
                            headers=self.headers)


_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
          405: "invalid_request_error", 413: "invalid_request_error", 503: "server_error"}
_CODES = {401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error JSON."""
    return {"error": {"message": message, "type": _TYPES.get(status, "server_error"), "param": param,
                      "code": code or _CODES.get(status)}}


# ---- the request -------------------------------------------------------------------------------------------------
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, ...: accepted, not used

    role: StrictStr
    content: StrictStr | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The standard body; parameters not listed (temperature, top_p, stop, user, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: StrictBool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: StrictInt | None = Field(default=None, ge=1)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=1)
    n: StrictInt = Field(default=1, ge=1, le=1, description="one answer per question")


def message_text(message: ChatMessage) -> str:
    """The text of a message: its string content, or its text parts joined."""
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    texts = []
    for part in message.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise OpenAIError(400, f"Only text content is supported; a {message.role} message has a part of type "
                                   f"{part.get('type')!r}.", param="messages")
        texts.append(part["text"])
    return "\n".join(texts)


def answer_phrase(reply: str) -> str:
    """The answer phrase of an earlier reply of ours: the first **bold** span before its sources."""
    found = _BOLD.search(reply.split("\n\nSources:", 1)[0])
    return " ".join(found.group(1).split()) if found else ""


def conversation(messages: Sequence[ChatMessage]) -> tuple[str, list[Turn]]:
    """The question (the last message, which must be the user's) and the earlier turns, oldest first. System,
    developer and tool messages are ignored: the answer comes from the documents."""
    spoken = [m for m in messages if m.role in ("user", "assistant")]
    if not spoken or spoken[-1].role != "user":
        raise OpenAIError(400, "The last message must be the user's question (role \"user\").", param="messages")
    question = message_text(spoken[-1]).strip()
    if not question:
        raise OpenAIError(400, "The last user message is empty; ask a question in words.", param="messages")
    turns: list[Turn] = []
    for m in spoken[:-1]:
        if m.role == "user":
            turns.append(Turn(message_text(m).strip()))
        elif turns and not turns[-1].phrase:
            turns[-1] = Turn(turns[-1].question, answer_phrase(message_text(m)))
    return question, [t for t in turns if t.question][-MAX_HISTORY:]


# ---- the reply ---------------------------------------------------------------------------------------------------
def reply_text(answer: Any) -> str:
    """The answer with [n] markers and the phrase in bold, then its sources, one line per citation."""
    text = answer.marked_text("**", "**")
    if answer.citations:
        lines = []
        for c in answer.citations:
            where = c.source + (f", page {c.page}" if c.page else "") + (f", § {c.section}" if c.section else "")
            lines.append(f"[{c.n}] {where} (characters {c.start}-{c.end}): \"{' '.join(c.quote.split())}\"")
        text += "\n\nSources:\n" + "\n".join(lines)
    return text


def cut(text: str, max_tokens: int | None) -> tuple[str, str]:
    """`text` within `max_tokens` tokens (cl100k) and the finish reason: "stop", or "length" when cut."""
    if max_tokens is None:
        return text, "stop"
    encoding = get_encoding()
    tokens = encoding.encode(text, disallowed_special=())
    if len(tokens) <= max_tokens:
        return text, "stop"
    return encoding.decode(tokens[:max_tokens]), "length"


def extras(answer: Any) -> dict[str, Any]:
    """The fields OpenAI's shape lacks: the verified citations and what seedrag knows of the answer."""
    out = answer.to_json()
    return {"citations": out["citations"],
            "seedrag": {key: out[key] for key in ("refused", "confidence", "support", "threshold", "mode",
                                                  "standalone_question", "highlight", "fallback")}}


def usage(messages: Sequence[ChatMessage], content: str) -> dict[str, int]:
    prompt = sum(count_tokens(message_text(m)) for m in messages)
    completion = count_tokens(content)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion(body: ChatRequest, answer: Any) -> dict[str, Any]:
    content, finish = cut(reply_text(answer), body.max_completion_tokens or body.max_tokens)
    return {"id": _completion_id(), "object": "chat.completion", "created": int(time.time()), "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": None,
                         "finish_reason": finish}],
            "usage": usage(body.messages, content), **extras(answer)}


def chunks(body: ChatRequest, ask: Any) -> Iterator[str]:
    """The server-sent events of a streamed completion: the role, the content in pieces of a few words, a last
    chunk with the finish reason and the extras, the usage when asked (stream_options.include_usage), [DONE]."""
    head = {"id": _completion_id(), "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body.model}

    def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
        data = {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **more}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        answer = ask()
    except SeedragError as exc:
        yield f"data: {json.dumps(error_body(_status(exc), str(exc)), ensure_ascii=False)}\n\n"
        return
    content, finish = cut(reply_text(answer), body.max_completion_tokens or body.max_tokens)
    for piece in word_groups(content):
        yield chunk({"content": piece})
    yield chunk({}, finish, **extras(answer))
    if (body.stream_options or {}).get("include_usage"):
        yield f"data: {json.dumps({**head, 'choices': [], 'usage': usage(body.messages, content)})}\n\n"
    yield "data: [DONE]\n\n"


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _status(exc: SeedragError) -> int:
    unavailable = (IndexNotFoundError, IndexMismatchError, StoreError, GeneratorError)
    return 503 if isinstance(exc, unavailable) else 400


# ---- routes ------------------------------------------------------------------------------------------------------
def models(rag: Any) -> dict[str, Any]:
    """The models this server answers with: one per answer mode."""
    created = int(time.time())
    ids = [EXTRACTIVE_MODEL] + ([LLM_MODEL] if rag.generator is not None else [])
    return {"object": "list", "data": [{"id": i, "object": "model", "created": created, "owned_by": "seedrag"}
                                       for i in ids]}


def engine_for(rag: Any, model: str) -> Any:
    """The engine that answers as `model`, or a 404 naming the models there are."""
    if model == EXTRACTIVE_MODEL:
        return rag.extractive()
    if model == LLM_MODEL and rag.generator is not None:
        return rag
    known = ", ".join(m["id"] for m in models(rag)["data"])
    hint = " (start the server with an LLM, e.g. seedrag serve --llm llama-cpp, to answer with one)" \
        if model == LLM_MODEL else ""
    raise OpenAIError(404, f"The model {model!r} does not exist on this server; use one of: {known}{hint}.",
                      param="model", code="model_not_found")


async def parsed(request: Request) -> ChatRequest:
    try:
        raw = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:  # RecursionError: nested thousands deep
        raise OpenAIError(400, f"The body is not valid JSON ({exc}).") from exc
    try:
        return ChatRequest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise OpenAIError(400, f"Invalid request: {where}: {first.get('msg', 'invalid')}",
                          param=where) from exc


def router(rag: Any, slots: AnswerSlots) -> APIRouter:
    r = APIRouter(prefix=OPENAI_PREFIX, tags=["OpenAI-compatible"])

    @r.get("/models")
    def list_models() -> Any:
        """The models (answer modes) of this server, in OpenAI's list shape."""
        return models(rag)

    @r.get("/models/{model_id}")
    def get_model(model_id: str) -> Any:
        """One model (answer mode) of this server, or 404 model_not_found naming the models there are."""
        found = next((m for m in models(rag)["data"] if m["id"] == model_id), None)
        if found is None:
            try:
                engine_for(rag, model_id)
            except OpenAIError as exc:
                return exc.response()
        return found

    @r.post("/chat/completions", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": ChatRequest.model_json_schema()}}}})
    async def chat_completions(request: Request) -> Any:
        """An answer from the documents in OpenAI's chat.completion shape (or chunks with "stream": true)."""
        try:
            body = await parsed(request)
            engine = engine_for(rag, body.model)
            question, history = conversation(body.messages)
            try:
                await slots.acquire()
            except Busy as exc:
                raise OpenAIError(503, str(exc), code="server_busy", headers={"Retry-After": "1"}) from exc
        except OpenAIError as exc:
            return exc.response()

        def ask() -> Any:
            return engine.ask(question, history=history)

        if not body.stream:
            try:
                answer = await run_in_threadpool(ask)
            except SeedragError as exc:
                return OpenAIError(_status(exc), str(exc)).response()
            finally:
                slots.release()
            return completion(body, answer)

        return event_stream(chunks(body, ask), slots)

    return r


def install(app: FastAPI, rag: Any, slots: AnswerSlots | None = None) -> FastAPI:
    """Add /v1/models and /v1/chat/completions to `app`, guarded by the server's bearer token."""
    api = router(rag, slots or answer_slots(rag.settings))
    app.include_router(api)
    answer_unknown_paths(app, api.routes, OPENAI_PREFIX, error_body)
    app.add_middleware(ApiGuard, token=rag.settings.api_token, upload_limit=JSON_LIMIT, json_limit=JSON_LIMIT,
                       prefix=OPENAI_PREFIX, error=error_body, upload_path=None)
    return app
