"""The OpenAI-compatible API (/v1), called with the official `openai` package over real HTTP: against the
package's `seedrag serve` processes (tests/ui/conftest.py), and against an in-process uvicorn server whose
engine has a canned-text LLM (the `seedrag-llm` model)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from rag.engine import RAG
from rag.generate.testing import FakeGenerator
from rag.generate.verify import VERIFY_SYSTEM
from rag.refusal import REFUSAL_TEXT
from rag.settings import Settings
from tests.servers import ATACMS, TOKEN
from ui.openai_api import ChatMessage, answer_phrase, conversation, cut

UNANSWERABLE = "What is the population of Lisbon?"


@pytest.fixture(scope="module")
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server}/v1", api_key="unused-without-a-token", max_retries=0, timeout=180)


def _document_text(server: str, source: str) -> str:
    docs = httpx.get(f"{server}/api/v1/documents", timeout=60).json()["documents"]
    doc_id = next(d["id"] for d in docs if d["source"] == source)
    return str(httpx.get(f"{server}/api/v1/documents/{doc_id}", timeout=60).json()["text"])


def test_models_are_the_answer_modes(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == ["seedrag-extractive"]  # no LLM on this server
    assert client.models.retrieve("seedrag-extractive").owned_by == "seedrag"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("seedrag-llm")
    assert caught.value.code == "model_not_found" and "--llm" in caught.value.message


def test_a_completion_has_the_answer_with_a_verified_citation(client: openai.OpenAI, server: str) -> None:
    done = client.chat.completions.create(model="seedrag-extractive", messages=[
        {"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": ATACMS}])
    assert done.object == "chat.completion" and done.model == "seedrag-extractive"
    (choice,) = done.choices
    content = choice.message.content or ""
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    answer, sources = content.split("\n\nSources:\n")
    assert "190 miles" in answer and answer.endswith("[1]") and "**" in answer  # the phrase in bold
    extra = done.model_extra or {}
    (citation,) = extra["citations"]
    assert _document_text(server, citation["source"])[citation["start"]:citation["end"]] == citation["quote"]
    assert "190 miles" in citation["quote"]
    assert sources.startswith(f"[1] {citation['source']}") and "190 miles" in sources
    assert extra["seedrag"]["refused"] is False and extra["seedrag"]["mode"] == "extractive"
    assert done.usage is not None and done.usage.completion_tokens > 10 and done.usage.prompt_tokens > 5


def test_a_streamed_completion_yields_chunks_that_add_up_and_ends_cleanly(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="seedrag-extractive", messages=[{"role": "user", "content": ATACMS}])
    stream = client.chat.completions.create(model="seedrag-extractive", messages=[{"role": "user", "content": ATACMS}],
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)  # the SDK stops at data: [DONE]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content or "" for c in with_choices]
    assert len([p for p in pieces if p]) >= 3
    assert "".join(pieces) == whole.choices[0].message.content
    last = with_choices[-1]
    assert last.choices[0].finish_reason == "stop" and (last.model_extra or {})["citations"]
    assert chunks[-1].usage is not None and not chunks[-1].choices


def test_an_unknown_model_is_404_in_openais_error_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": ATACMS}])
    assert caught.value.status_code == 404 and caught.value.code == "model_not_found"
    assert "seedrag-extractive" in caught.value.message
    with pytest.raises(openai.NotFoundError) as llm:
        client.chat.completions.create(model="seedrag-llm", messages=[{"role": "user", "content": ATACMS}])
    assert "--llm" in llm.value.message


def test_no_token_is_401_in_openais_error_shape(secured: str) -> None:
    for key in ("", "wrong-token"):
        anonymous = openai.OpenAI(base_url=f"{secured}/v1", api_key=key or "x", max_retries=0, timeout=60)
        if not key:
            anonymous = anonymous.with_options(default_headers={"Authorization": ""})
        with pytest.raises(openai.AuthenticationError) as caught:
            anonymous.chat.completions.create(model="seedrag-extractive",
                                              messages=[{"role": "user", "content": ATACMS}])
        assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
        assert "SEEDRAG_API_TOKEN" in caught.value.message
    allowed = openai.OpenAI(base_url=f"{secured}/v1", api_key=TOKEN, max_retries=0, timeout=180)
    assert [m.id for m in allowed.models.list()] == ["seedrag-extractive"]
    done = allowed.chat.completions.create(model="seedrag-extractive", messages=[{"role": "user", "content": ATACMS}])
    assert "190 miles" in (done.choices[0].message.content or "")


def test_a_question_the_documents_do_not_answer_is_refused(client: openai.OpenAI) -> None:
    done = client.chat.completions.create(model="seedrag-extractive",
                                          messages=[{"role": "user", "content": UNANSWERABLE}])
    assert done.choices[0].message.content == REFUSAL_TEXT
    extra = done.model_extra or {}
    assert extra["citations"] == [] and extra["seedrag"]["refused"] is True


def test_a_follow_up_leans_on_the_earlier_reply(client: openai.OpenAI) -> None:
    done = client.chat.completions.create(model="seedrag-extractive", messages=[
        {"role": "user", "content": "Who is the president of Ukraine?"},
        {"role": "assistant", "content": "The president is **Volodymyr Zelensky** [1]\n\nSources:\n[1] x"},
        {"role": "user", "content": "and what did he say?"}])
    extra = done.model_extra or {}
    assert "Zelensky" in extra["seedrag"]["standalone_question"]
    assert "Zelensky" in (done.choices[0].message.content or "")


def test_max_tokens_cuts_the_content(client: openai.OpenAI) -> None:
    done = client.chat.completions.create(model="seedrag-extractive", max_tokens=5,
                                          messages=[{"role": "user", "content": ATACMS}])
    assert done.choices[0].finish_reason == "length"
    assert done.usage is not None and done.usage.completion_tokens <= 5
    assert (done.model_extra or {})["citations"]  # the citations are whole even when the text is cut


@pytest.mark.parametrize("body, param", [
    ({"model": "seedrag-extractive", "messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
    ({"model": "seedrag-extractive", "messages": [{"role": "user", "content": ATACMS}], "n": 2}, "n"),
    ({"model": "seedrag-extractive", "messages": []}, "messages"),
    ({"messages": [{"role": "user", "content": ATACMS}]}, "model"),
    ({"model": "seedrag-extractive", "messages": [{"role": "user", "content": "   "}]}, "messages"),
])
def test_bad_requests_are_400_naming_the_parameter(server: str, body: dict[str, Any], param: str) -> None:
    r = httpx.post(f"{server}/v1/chat/completions", json=body, timeout=60)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


def test_invalid_json_and_unknown_paths_answer_in_openais_shape(server: str) -> None:
    r = httpx.post(f"{server}/v1/chat/completions", content=b"{not json", timeout=60,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    deep = b'{"model": "seedrag-extractive", "messages": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    r = httpx.post(f"{server}/v1/chat/completions", content=deep, timeout=60,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = httpx.get(f"{server}/v1/embeddings", timeout=60)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = httpx.get(f"{server}/v1/chat/completions", timeout=60)
    assert r.status_code == 405 and r.headers["allow"] == "POST" and "error" in r.json()


# ---- units -------------------------------------------------------------------------------------------------------
def test_the_conversation_is_the_last_question_and_the_earlier_turns() -> None:
    messages = [ChatMessage(role="system", content="be brief"),
                ChatMessage(role="user", content="Who is the president of Ukraine?"),
                ChatMessage(role="assistant", content="It is **Volodymyr Zelensky** [1]\n\nSources:\n[1] **x**"),
                ChatMessage(role="user", content=[{"type": "text", "text": "and what did he say?"}])]
    question, turns = conversation(messages)
    assert question == "and what did he say?"
    assert [(t.question, t.phrase) for t in turns] == [("Who is the president of Ukraine?", "Volodymyr Zelensky")]
    assert answer_phrase("no bold here\n\nSources:\n[1] **not the answer**") == ""


def test_cut_keeps_text_within_the_token_limit() -> None:
    assert cut("one two three", None) == ("one two three", "stop")
    assert cut("one two three", 3) == ("one two three", "stop")
    assert cut("one two three", 2) == ("one two", "length")


# ---- the LLM model, in-process with a canned-text LLM -----------------------------------------------------------
@pytest.fixture(scope="module")
def llm_server(seed_rag: RAG, embedder: Any) -> Iterator[tuple[str, FakeGenerator]]:
    from fastapi import FastAPI

    from ui import openai_api
    from ui.server import in_thread

    def respond(messages: Any) -> str:
        if messages[0]["content"] == VERIFY_SYSTEM:
            return "yes"
        block = next(b for b in messages[-1]["content"].split("\n\n[") if "190 miles" in b)
        passage = int(block.lstrip("[").split("]", 1)[0])
        return f"The ATACMS missile can fly up to 190 miles (300 kilometers) [{passage}]."

    generator = FakeGenerator(respond)
    rag = RAG(seed_rag.store, embedder=embedder, settings=Settings(), generator=generator)
    with in_thread(openai_api.install(FastAPI(), rag)) as port:
        yield f"http://127.0.0.1:{port}", generator


def test_the_llm_model_answers_through_the_llm_and_the_extractive_one_does_not(llm_server) -> None:
    url, generator = llm_server
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=180)
    assert [m.id for m in client.models.list()] == ["seedrag-extractive", "seedrag-llm"]
    calls = len(generator.calls)
    extractive = client.chat.completions.create(model="seedrag-extractive",
                                                messages=[{"role": "user", "content": ATACMS}])
    assert len(generator.calls) == calls and (extractive.model_extra or {})["seedrag"]["mode"] == "extractive"
    done = client.chat.completions.create(model="seedrag-llm", messages=[{"role": "user", "content": ATACMS}])
    assert len(generator.calls) > calls
    extra = done.model_extra or {}
    assert extra["seedrag"]["mode"] == "llm:fake" and extra["citations"]
    content = done.choices[0].message.content or ""
    assert content.replace("**", "").startswith("The ATACMS missile can fly up to 190 miles")  # the LLM's words
    phrase = extra["seedrag"]["highlight"]["text"]  # its answer phrase, bold where it says it
    assert "190 miles" in phrase and f"**{phrase}**" in content.split("\n\n")[0]
