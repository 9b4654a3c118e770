"""`openai`: any server that speaks OpenAI's chat-completions API (llama.cpp's server, vLLM, Ollama, ...).

Plain httpx, no `openai` package: POST {base_url}/chat/completions, streamed as server-sent events
("data: {json}" lines, ended by "data: [DONE]"). Transport and HTTP failures become `GeneratorError`
naming the URL and the fix.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

from index.errors import GeneratorError
from rag.generate.base import Generator, Message, check_messages, check_sampling

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


class OpenAIGenerator(Generator):
    """A chat model behind an OpenAI-compatible HTTP API.

    >>> g = OpenAIGenerator("http://127.0.0.1:8000/v1")                     # doctest: +SKIP
    >>> "".join(g.stream([{"role": "user", "content": "Say hello."}]))      # doctest: +SKIP
    'Hello!'
    """

    def __init__(self, base_url: str = DEFAULT_BASE_URL, model: str | None = None, api_key: str | None = None,
                 timeout: float = 120.0, name: str = "openai") -> None:
        if not base_url.startswith(("http://", "https://")):
            raise GeneratorError(
                f"The base URL must start with http:// or https://, e.g. {DEFAULT_BASE_URL}. Currently: {base_url!r}."
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.name = name

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _client(self) -> Any:
        import httpx

        return httpx.Client(timeout=httpx.Timeout(self.timeout, connect=10.0), headers=self._headers())

    def model_id(self) -> str:
        """The configured model, or the first one the server lists at GET /models."""
        if self.model:
            return self.model
        with self._client() as client, _translated(self.base_url):
            response = client.get(f"{self.base_url}/models")
            _check(response, self.base_url)
            models = response.json().get("data") or []
        if not models:
            raise GeneratorError(f"The server at {self.base_url} lists no models. Pass the model name: --llm-model.")
        self.model = str(models[0]["id"])
        return self.model

    def _body(self, msgs: list[Message], max_tokens: int, temperature: float, stream: bool) -> dict[str, Any]:
        return {"model": self.model_id(), "messages": msgs, "max_tokens": max_tokens,
                "temperature": temperature, "stream": stream}

    def generate(self, messages: Sequence[Message], max_tokens: int = 256, temperature: float = 0.0) -> str:
        msgs = check_messages(messages)
        check_sampling(max_tokens, temperature)
        body = self._body(msgs, max_tokens, temperature, stream=False)
        with self._client() as client, _translated(self.base_url):
            response = client.post(f"{self.base_url}/chat/completions", json=body)
            _check(response, self.base_url)
            try:
                return str(response.json()["choices"][0]["message"].get("content") or "")
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise GeneratorError(
                    f"The server at {self.base_url} sent a reply that is not an OpenAI chat completion: "
                    f"{response.text[:200]!r}"
                ) from exc

    def stream(self, messages: Sequence[Message], max_tokens: int = 256, temperature: float = 0.0) -> Iterator[str]:
        msgs = check_messages(messages)
        check_sampling(max_tokens, temperature)
        body = self._body(msgs, max_tokens, temperature, stream=True)  # errors of GET /models surface here
        return self._events(body)

    def _events(self, body: dict[str, Any]) -> Iterator[str]:
        with self._client() as client, _translated(self.base_url):
            with client.stream("POST", f"{self.base_url}/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    _check(response, self.base_url)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue  # comments, event names, keep-alives and blank separators
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    piece = _delta(data, self.base_url)
                    if piece:
                        yield piece


def _delta(data: str, base_url: str) -> str:
    try:
        event = json.loads(data)
    except ValueError as exc:
        raise GeneratorError(f"The server at {base_url} sent an event that is not JSON: {data[:200]!r}") from exc
    if "error" in event:
        raise GeneratorError(f"The server at {base_url} failed while streaming: {event['error']}")
    choices = event.get("choices") or [{}]
    return str((choices[0].get("delta") or {}).get("content") or "")


def _check(response: Any, base_url: str) -> None:
    if response.status_code < 400:
        return
    try:
        detail = response.json()
        detail = detail.get("error", detail) if isinstance(detail, dict) else detail
        if isinstance(detail, dict):
            detail = detail.get("message", detail)
    except ValueError:
        detail = response.text[:300]
    hint = {401: " Set the API key (SEEDRAG_LLM_API_KEY or --api-key).",
            403: " The API key is not allowed to use this model.",
            404: " Check the base URL: it usually ends in /v1."}.get(response.status_code, "")
    raise GeneratorError(f"The server at {base_url} answered HTTP {response.status_code}: {detail}.{hint}")


@contextlib.contextmanager
def _translated(base_url: str) -> Iterator[None]:
    """Turn httpx transport errors into GeneratorError (as httpx maps httpcore's)."""
    import httpx

    try:
        yield
    except httpx.ConnectError as exc:
        raise GeneratorError(
            f"Cannot reach the OpenAI-compatible server at {base_url}: {exc}. Start the server, or check "
            f"the base URL (--base-url / SEEDRAG_LLM_BASE_URL)."
        ) from exc
    except httpx.TimeoutException as exc:
        raise GeneratorError(
            f"The server at {base_url} did not answer in time ({exc.__class__.__name__}). It may be "
            f"overloaded or the model too slow; raise the timeout or use a smaller model."
        ) from exc
    except httpx.HTTPError as exc:
        raise GeneratorError(f"HTTP error talking to {base_url}: {exc}") from exc


def create(config: Any, name: str = "openai") -> OpenAIGenerator:
    """Registry factory: `config.base_url`, `config.model` (optional), `config.api_key` (optional)."""
    return OpenAIGenerator(config.base_url or DEFAULT_BASE_URL, model=config.model, api_key=config.api_key,
                           timeout=config.timeout, name=name)
