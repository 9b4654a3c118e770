"""`llama-cpp`: a GGUF model run in this process by llama-cpp-python (optional extra `seedrag[llm]`).

The model loads on first use (not at construction), with the chat template stored in the GGUF file.
One model is not safe to call from two threads at once, so calls are serialised by a lock; a stream
holds the lock until it is exhausted or closed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from index.errors import GeneratorError
from rag.generate.base import Generator, Message, check_messages, check_sampling

INSTALL_HINT = ("pip install 'seedrag[llm]' (llama-cpp-python builds from source; "
                "CMAKE_ARGS=\"-DLLAVA_BUILD=OFF\" shortens the build to about 4 minutes)")


class LlamaCppGenerator(Generator):
    """A local GGUF chat model.

    >>> g = LlamaCppGenerator("~/.cache/seedrag/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")  # doctest: +SKIP
    >>> g.generate([{"role": "user", "content": "Say hello."}], max_tokens=8)                        # doctest: +SKIP
    'Hello! How can I help you today?'
    """

    def __init__(self, model_path: str | Path, n_ctx: int = 4096, n_threads: int = 2, name: str | None = None,
                 seed: int = 0) -> None:
        self.path = Path(model_path).expanduser()
        self.name = name or "llama-cpp"
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.seed = seed
        self._llm: Any = None
        self._load_lock = threading.Lock()
        self._call_lock = threading.Lock()

    # ---- loading ----------------------------------------------------------------------------------
    @property
    def llm(self) -> Any:
        """The loaded `llama_cpp.Llama` (loads it on first use)."""
        if self._llm is None:
            with self._load_lock:
                if self._llm is None:
                    self._llm = self._load()
        return self._llm

    def _load(self) -> Any:
        if not self.path.is_file():
            raise GeneratorError(
                f"No GGUF model file at {self.path}. Install one with `seedrag llm install qwen2.5-1.5b` "
                f"(see `seedrag llm list`), or pass --model PATH to a .gguf file."
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise GeneratorError(f"The llama-cpp backend needs llama-cpp-python: {INSTALL_HINT}.") from exc
        try:
            # n_threads_batch defaults to every core; the prompt pass must respect the same limit
            return Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                         n_threads_batch=self.n_threads, seed=self.seed, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise GeneratorError(f"llama.cpp cannot load {self.path} as a GGUF model: {exc}") from exc

    # ---- the contract -----------------------------------------------------------------------------
    @property
    def context_length(self) -> int:
        """n_ctx, or the context the model was trained with if that is shorter (beyond it, output is garbage)."""
        llm = self.llm
        trained = llm.metadata.get(f"{llm.metadata.get('general.architecture', 'llama')}.context_length")
        return min(int(llm.n_ctx()), int(trained)) if trained else int(llm.n_ctx())

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens of the prompt the chat template makes of `messages` (a close estimate without one)."""
        llm = self.llm
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            return sum(self.count_tokens(m["content"]) + 8 for m in messages)
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        def special(token: int) -> str:
            return bytes(llm.detokenize([token], special=True)).decode("utf-8", errors="ignore") if token >= 0 else ""

        formatter = Jinja2ChatFormatter(template, eos_token=special(llm.token_eos()),
                                        bos_token=special(llm.token_bos()))
        prompt = formatter(messages=list(messages)).prompt  # type: ignore[arg-type]
        return len(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def stream(self, messages: Sequence[Message], max_tokens: int = 256, temperature: float = 0.0) -> Iterator[str]:
        msgs = check_messages(messages)
        check_sampling(max_tokens, temperature)
        llm = self.llm  # load errors surface here, before the first piece is asked for
        return self._pieces(llm, msgs, max_tokens, temperature)

    def _pieces(self, llm: Any, msgs: list[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        with self._call_lock:
            try:
                chunks = llm.create_chat_completion(msgs, max_tokens=max_tokens, temperature=temperature,
                                                    stream=True, seed=self.seed)
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except ValueError as exc:  # llama-cpp-python raises ValueError when the prompt does not fit
                raise GeneratorError(
                    f"The prompt does not fit the model's context ({self.context_length} tokens): {exc}. "
                    f"Lower the passage budget, max_tokens, or raise llm_ctx."
                ) from exc
            except RuntimeError as exc:
                raise GeneratorError(f"llama.cpp failed while generating: {exc}") from exc


def create(config: Any, name: str = "llama-cpp") -> LlamaCppGenerator:
    """Registry factory: `config.model` is the GGUF path."""
    if not config.model:
        raise GeneratorError(
            "The llama-cpp backend needs a model file: pass --model PATH (a .gguf file) or use an installed "
            "model by name, e.g. --llm qwen2.5-1.5b (install it with `seedrag llm install qwen2.5-1.5b`)."
        )
    return LlamaCppGenerator(config.model, n_ctx=config.n_ctx, n_threads=config.n_threads, name=name)
