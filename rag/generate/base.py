"""The Generator contract: chat messages in, text out, whole or streamed.

A backend implements one primitive, `stream`; `generate` joins the pieces (a backend may override it
with a cheaper non-streaming call). Backends that can count their own tokens expose `count_tokens` and
`context_length`, so the prompt can be packed against the model's hard limit; others return None.
Every failure a backend meets is raised as `GeneratorError` with the fix in the message.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict

from index.errors import GeneratorError


class Message(TypedDict):
    """One chat message, as OpenAI's and llama.cpp's chat APIs take it."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class GeneratorConfig:
    """What a factory of the registry receives. Backends ignore the fields they do not use.

    `model` is a GGUF path for `llama-cpp`, a model id for `openai` (None: the server's first model).
    """

    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    n_ctx: int = 4096
    n_threads: int = 2
    models_dir: str | None = None
    timeout: float = 120.0

    def __post_init__(self) -> None:
        if self.n_ctx < 256:
            raise GeneratorError(f"llm_ctx must be at least 256 tokens. Currently, it is {self.n_ctx}.")
        if self.n_threads < 1:
            raise GeneratorError(f"n_threads must be at least 1. Currently, it is {self.n_threads}.")
        if self.timeout <= 0:
            raise GeneratorError(f"timeout must be positive. Currently, it is {self.timeout}.")


class Generator(abc.ABC):
    """An LLM backend.

    >>> from rag.generate.testing import FakeGenerator
    >>> g = FakeGenerator("The range is 190 miles [1].")
    >>> g.generate([{"role": "user", "content": "range?"}])
    'The range is 190 miles [1].'
    >>> "".join(g.stream([{"role": "user", "content": "range?"}]))
    'The range is 190 miles [1].'
    """

    name: str = "generator"

    @abc.abstractmethod
    def stream(self, messages: Sequence[Message], max_tokens: int = 256, temperature: float = 0.0) -> Iterator[str]:
        """Yield the answer's text piece by piece; the pieces join to the whole answer."""

    def generate(self, messages: Sequence[Message], max_tokens: int = 256, temperature: float = 0.0) -> str:
        """The whole answer as one string."""
        return "".join(self.stream(messages, max_tokens=max_tokens, temperature=temperature))

    @property
    def context_length(self) -> int | None:
        """The model's hard context limit in its own tokens, when known."""
        return None

    def count_tokens(self, text: str) -> int | None:
        """`text`'s length in the model's own tokens, or None when the backend cannot tell."""
        return None

    def count_message_tokens(self, messages: Sequence[Message]) -> int | None:
        """Tokens of the messages as the model will see them (chat template included), when known."""
        return None


def check_messages(messages: Sequence[Message]) -> list[Message]:
    """A clear error for an empty or malformed message list, before any backend sees it."""
    if not messages:
        raise GeneratorError("No messages to send to the model. Pass at least one {'role': 'user', ...} message.")
    out: list[Message] = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            raise GeneratorError(
                f"A chat message needs role system/user/assistant and string content. Currently: {m!r}."
            )
        out.append({"role": role, "content": content})
    return out


def check_sampling(max_tokens: int, temperature: float) -> None:
    if not isinstance(max_tokens, int) or max_tokens <= 0:
        raise GeneratorError(f"max_tokens must be a whole number greater than 0. Currently, it is {max_tokens!r}.")
    if not 0.0 <= temperature <= 2.0:
        raise GeneratorError(f"temperature must be between 0 and 2. Currently, it is {temperature!r}.")
