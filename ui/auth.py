"""One authentication for the whole server when `SEEDRAG_API_TOKEN` is set.

Every path (the chat page, Gradio's own API under /gradio_api/ with its uploads and event handlers, the
OpenAPI schema and docs, static files) needs either the header `Authorization: Bearer <token>` or the
session cookie the login page sets after the token is typed in. /api/v1/* and the OpenAI-compatible /v1/*
are left to their `ui.api.ApiGuard` (bearer token only: programs). Only the login page itself is open.
Without a token nothing is checked.

The cookie holds HMAC-SHA256(token, "seedrag-session"), not the token; it is HttpOnly and SameSite=Strict,
and changing the token logs every browser out.
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ui.api import PREFIX, token_ok, under

COOKIE = "seedrag_session"
LOGIN = "/login"
MAX_FORM = 8192


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"seedrag-session", hashlib.sha256).hexdigest()


class SiteGuard:
    """ASGI middleware: the token (bearer header or session cookie) on every path but /login and the
    `programs` prefixes (their own guard checks the bearer header)."""

    def __init__(self, app: ASGIApp, token: str | None, programs: tuple[str, ...] = (PREFIX,)) -> None:
        self.app = app
        self.token = token
        self.programs = programs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.token or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if any(under(path, prefix) for prefix in self.programs):
            await self.app(scope, receive, send)  # ApiGuard checks the bearer token there
            return
        if path == LOGIN and scope["type"] == "http":
            await self._login(scope, receive, send)
            return
        if self._allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await self._refuse(scope)(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        assert self.token
        headers = Headers(scope=scope)
        if token_ok(headers.get("authorization"), self.token):
            return True
        cookie = Request(scope).cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), session_value(self.token).encode())

    def _refuse(self, scope: Scope) -> Response:
        headers = Headers(scope=scope)
        if scope.get("method") == "GET" and "text/html" in headers.get("accept", ""):
            return RedirectResponse(LOGIN, status_code=303)  # a browser: to the login page
        return JSONResponse({"detail": "Log in first: open /login and enter the server's token (SEEDRAG_API_TOKEN), "
                                       "or send the header Authorization: Bearer <token>."},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.token
        request = Request(scope, receive)
        if request.method != "POST":
            await _page("")(scope, receive, send)
            return
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM:
                await _page("That was not a token.", 413)(scope, receive, send)
                return
        given = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0]
        if not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            await _page("Wrong token.", 401)(scope, receive, send)
            return
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, session_value(self.token), httponly=True, samesite="strict", path="/")
        await response(scope, receive, send)


def _page(message: str, status: int = 200) -> HTMLResponse:
    note = f"<p role='alert'>{escape(message)}</p>" if message else ""
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'><title>seedrag: log in</title></head>"
        "<body style='font-family:sans-serif;max-width:28em;margin:4em auto'><h1>seedrag</h1>"
        f"{note}<form method='post' action='{LOGIN}'><label>Server token (SEEDRAG_API_TOKEN)<br>"
        "<input type='password' name='token' autofocus required style='width:100%'></label>"
        "<p><button type='submit'>Log in</button></p></form></body></html>", status_code=status)
