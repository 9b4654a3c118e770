"""The REST API (/api/v1) against real `seedrag serve` processes on loopback ports.

The servers (`server`, open; `secured`, with SEEDRAG_API_TOKEN) are tests/ui/conftest.py's, shared by the package.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import ATACMS, MAX_UPLOAD_MB, TOKEN, seedrag, serve, serving

ZORBLAT = ("# The Zorblat festival\n\n"
           "The Zorblat festival is held every autumn in the mountain village of Quellmoor. "
           "During the festival, the villagers float lantern boats made of kelp paper down the river Ysk. "
           "The oldest lantern boat on record was built by the weaver Ottilie Brask in 1821.\n")
ZORBLAT_QUESTION = "What are the lantern boats of the Zorblat festival made of?"

MARROWIND = ("# Marrowind tea\n\n"
             "Marrowind tea is brewed only from the silver leaves of the glimmerbush shrub. "
             "The tea is steeped for exactly eleven minutes in water from melted hail.\n")
MARROWIND_QUESTION = "How long is Marrowind tea steeped?"


# ---- helpers -------------------------------------------------------------------------------------------------------
def _ask(api: httpx.Client, question: str, **more: Any) -> dict[str, Any]:
    r = api.post("/api/v1/ask", json={"question": question, **more})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _documents(api: httpx.Client) -> dict[str, dict[str, Any]]:
    r = api.get("/api/v1/documents")
    assert r.status_code == 200, r.text
    return {d["source"]: d for d in r.json()["documents"]}


def _text(api: httpx.Client, source: str) -> str:
    r = api.get(f"/api/v1/documents/{_documents(api)[source]['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["source"] == source
    return str(r.json()["text"])


def _upload(api: httpx.Client, *files: tuple[str, bytes]) -> httpx.Response:
    return api.post("/api/v1/documents", files=[("files", (name, data, "application/octet-stream"))
                                                  for name, data in files])


def _sse(lines: Iterator[str]) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    name, data = None, []
    for line in lines:
        if line.startswith("event:"):
            name = line[len("event:"):].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:"):].strip())
        elif not line and name is not None:
            events.append((name, json.loads("\n".join(data))))
            name, data = None, []
    return events


def _delete(api: httpx.Client, source: str) -> dict[str, Any]:
    r = api.delete(f"/api/v1/documents/{_documents(api)[source]['id']}")
    assert r.status_code == 200, r.text
    return dict(r.json())


# ---- reading -------------------------------------------------------------------------------------------------------
def test_health(api: httpx.Client, workspace: Path) -> None:
    h = api.get("/api/v1/health").json()
    assert h["status"] == "ok" and h["mode"] == "extractive"
    assert h["documents"] >= 1 and h["chunks"] >= h["documents"]
    assert "MiniLM" in h["model"]
    assert Path(h["index"]).name == "index"


def test_chat_page_and_openapi_are_served(api: httpx.Client) -> None:
    page = api.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    schema = api.get("/openapi.json").json()
    assert {"/api/v1/ask", "/api/v1/retrieve", "/api/v1/documents", "/api/v1/documents/{doc_id}",
            "/api/v1/health"} <= set(schema["paths"])
    assert {"AskRequest", "AskResponse", "RetrieveResponse", "UploadReport", "Health"} <= set(
        schema["components"]["schemas"])
    assert "text/event-stream" in schema["paths"]["/api/v1/ask"]["post"]["responses"]["200"]["content"]
    assert api.get("/api/docs").status_code == 200


def test_ask_answers_with_a_citation_that_matches_the_document(api: httpx.Client) -> None:
    answer = _ask(api, ATACMS)
    assert not answer["refused"] and "190" in answer["answer"]
    assert answer["citations"] and answer["passages"]
    for c in answer["citations"]:
        assert _text(api, c["source"])[c["start"]:c["end"]] == c["quote"]
    assert "190" in answer["citations"][0]["quote"]


def test_ask_returns_the_answer_phrase_and_follows_up_on_it(api: httpx.Client) -> None:
    answer = _ask(api, ATACMS)
    h = answer["highlight"]
    assert h and "190 miles" in h["text"] and _text(api, h["source"])[h["start"]:h["end"]] == h["text"]
    turn = {"question": "Who is the president of Ukraine?", "phrase": "Volodymyr Zelensky"}
    r = api.post("/api/v1/ask", json={"question": "and what did he say?", "history": [turn]})
    assert r.status_code == 200, r.text
    follow = r.json()
    assert "Zelensky" in follow["standalone_question"] and "Zelensky" in follow["answer"]
    assert api.post("/api/v1/ask", json={"question": "ok", "history": [{"phrase": "x"}]}).status_code == 422


def test_ask_streams_tokens_then_citations_then_done(api: httpx.Client) -> None:
    with api.stream("POST", "/api/v1/ask", json={"question": ATACMS, "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _sse(r.iter_lines())
    names = [name for name, _ in events]
    tokens = names.count("token")
    assert tokens >= 2 and names == ["token"] * tokens + ["citations", "done"]
    final = events[-2][1]
    assert "".join(data["text"] for _, data in events[:tokens]) == final["answer"]
    assert "190" in final["answer"] and final["citations"]
    assert final["answer"] == _ask(api, ATACMS)["answer"]


def test_retrieve_returns_passages_at_their_offsets(api: httpx.Client) -> None:
    r = api.post("/api/v1/retrieve", json={"query": "ATACMS range miles", "k": 2})
    assert r.status_code == 200, r.text
    passages = r.json()["passages"]
    assert 1 <= len(passages) <= 2
    scores = [p["score"] for p in passages]
    assert scores == sorted(scores, reverse=True)
    for p in passages:
        assert _text(api, p["source"])[p["start"]:p["end"]] == p["text"]


def test_unknown_document_id_is_404(api: httpx.Client) -> None:
    for r in (api.get("/api/v1/documents/0123456789abcdef"), api.delete("/api/v1/documents/0123456789abcdef")):
        assert r.status_code == 404 and "GET /api/v1/documents" in r.json()["detail"]


# ---- documents: add, list, delete ---------------------------------------------------------------------------------
def test_uploaded_document_is_answered_from_then_deleted(api: httpx.Client, workspace: Path) -> None:
    before = _documents(api)
    r = _upload(api, ("zorblat.md", ZORBLAT.encode()))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["added"] == 1 and report["skipped"] == []
    assert [d["source"] for d in report["documents"]] == ["docs/zorblat.md"]
    assert (workspace / "docs" / "zorblat.md").read_text() == ZORBLAT
    listed = _documents(api)
    assert set(listed) == set(before) | {"docs/zorblat.md"}
    shown = ZORBLAT.replace("# ", "").strip()  # Markdown is indexed as the text a reader sees
    assert listed["docs/zorblat.md"]["chars"] == len(shown)

    answer = _ask(api, ZORBLAT_QUESTION)
    assert not answer["refused"] and "kelp paper" in answer["answer"]
    assert answer["citations"][0]["source"] == "docs/zorblat.md"
    c = answer["citations"][0]
    assert shown[c["start"]:c["end"]] == c["quote"]

    gone = _delete(api, "docs/zorblat.md")
    assert gone["removed"] and gone["file_deleted"] and gone["source"] == "docs/zorblat.md"
    assert not (workspace / "docs" / "zorblat.md").exists()
    assert set(_documents(api)) == set(before)
    assert api.get(f"/api/v1/documents/{gone['id']}").status_code == 404
    after = _ask(api, ZORBLAT_QUESTION)
    assert after["refused"] or all(c["source"] != "docs/zorblat.md" for c in after["citations"])
    assert "kelp" not in after["answer"]
    assert "190" in _ask(api, ATACMS)["answer"]  # the seed article is untouched


def test_unusable_uploads_are_rejected_and_nothing_indexed_is_lost(api: httpx.Client, workspace: Path) -> None:
    r = _upload(api, ("marrowind.md", MARROWIND.encode()))
    assert r.status_code == 200, r.text
    docs = workspace / "docs"
    before = _documents(api)
    bad = [(b"\x00\x01\x02binary\x00" * 50, "binary"), (b"", "empty"), (b"  \n\t ", "empty"),
           ("caf\u00e9 ".encode("latin-1") * 20, "UTF-8")]
    for data, reason in bad:  # same name as the indexed file: it must not be overwritten
        r = _upload(api, ("marrowind.md", data))
        assert r.status_code == 422, r.text
        assert reason in r.json()["detail"] and "marrowind.md" in r.json()["detail"]
    # one bad file in a batch: nothing of the batch is saved
    r = _upload(api, ("fine.md", b"# Fine\n\nA perfectly fine file.\n"), ("broken.txt", b"\x00" * 100))
    assert r.status_code == 422 and "broken.txt" in r.json()["detail"]
    assert not (docs / "fine.md").exists()
    assert (docs / "marrowind.md").read_text() == MARROWIND
    assert sorted(p.name for p in docs.iterdir()) == ["marrowind.md"]  # no temporary files left
    assert _documents(api) == before
    answer = _ask(api, MARROWIND_QUESTION)
    assert not answer["refused"] and "eleven minutes" in answer["answer"]
    assert answer["citations"][0]["source"] == "docs/marrowind.md"
    assert "190" in _ask(api, ATACMS)["answer"]
    _delete(api, "docs/marrowind.md")


def test_unsupported_file_type_is_415(api: httpx.Client, workspace: Path) -> None:
    for name in ("program.exe", "../../etc/passwd", "sheet.xlsx"):
        r = _upload(api, (name, b"MZ not a document"))
        assert r.status_code == 415, r.text
        detail = r.json()["detail"]
        assert "unsupported file type" in detail and ".md" in detail and ".pdf" in detail
    assert not any((workspace / "docs").glob("*.exe")) and not (workspace / "docs" / "passwd").exists()
    r = _upload(api, ("sheet.docx", b"MZ not a document"))  # a supported type that is not what it says
    assert r.status_code == 422 and "not a Word document" in r.json()["detail"]


def test_upload_file_names_cannot_escape_the_documents_folder(api: httpx.Client, workspace: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    names = {f"../../escape-{tag}.md": f"escape-{tag}.md",
             f"/tmp/abs-{tag}.md": f"abs-{tag}.md",
             f"..\\..\\win-{tag}.md": f"win-{tag}.md",
             f".hidden-{tag}.md": f"hidden-{tag}.md",
             f"sub/../../dir-{tag}.txt": f"dir-{tag}.txt"}
    r = _upload(api, *((raw, f"# Note {i}\n\nSafe file name check number {i}.\n".encode())
                       for i, raw in enumerate(names)))
    assert r.status_code == 200, r.text
    docs = workspace / "docs"
    assert sorted(d["source"] for d in r.json()["documents"]) == sorted(f"docs/{n}" for n in names.values())
    assert {p.name for p in docs.iterdir()} >= set(names.values())
    assert not any(tag in p.name for p in workspace.parent.rglob("*") if docs not in p.parents)
    assert not list(Path("/tmp").glob(f"*{tag}*"))
    for clean in names.values():
        assert _delete(api, f"docs/{clean}")["file_deleted"]
    # a NUL byte in the name, sent raw: rejected, nothing saved
    boundary = "seedragboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x\x00-{tag}.md\"\r\n"
            f"Content-Type: text/markdown\r\n\r\n# x\n\nNUL name.\n\r\n--{boundary}--\r\n").encode()
    r = api.post("/api/v1/documents", content=body,
                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 422, r.text
    assert not any(tag in p.name for p in docs.iterdir())


# ---- limits and bad requests --------------------------------------------------------------------------------------
def test_oversize_bodies_are_413(api: httpx.Client) -> None:
    big = {"question": "x" * 100_000}
    r = api.post("/api/v1/ask", json=big)
    assert r.status_code == 413 and "limit" in r.json()["detail"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield b'{"question": "'
        for _ in range(20):
            yield b"y" * 8192
        yield b'"}'

    r = api.post("/api/v1/retrieve", content=chunked(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    r = _upload(api, ("huge.txt", b"word " * (MAX_UPLOAD_MB * 1024 * 1024 // 5 + 30_000)))
    assert r.status_code == 413 and "SEEDRAG_MAX_UPLOAD_MB" in r.json()["detail"]
    # over the file limit but within the request's slack: refused while it is saved, naming the upload only
    r = _upload(api, ("just-over.txt", b"word " * (MAX_UPLOAD_MB * 1024 * 1024 // 5 + 2_000)))
    assert r.status_code == 413 and "'just-over.txt' is larger than the upload limit" in r.json()["detail"]
    assert ".upload-" not in r.json()["detail"] and "/" not in r.json()["detail"].split(" is larger")[0]
    assert api.get("/api/v1/health").status_code == 200


def test_malformed_json_is_422(api: httpx.Client) -> None:
    deep = b'{"question": "ok", "history": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"  # the parser gives up
    for raw in (b'{"question": ', b"not json", b'{"question": "a",}', deep):
        r = api.post("/api/v1/ask", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert "not valid JSON" in r.json()["detail"]


@pytest.mark.parametrize("body", [
    {"question": 5}, {"question": "ok", "k": "five"}, {"question": "ok", "k": True}, {"question": "ok", "k": 0},
    {"question": "ok", "history": "not a list"}, {"question": "ok", "stream": "yes"}, {"question": "ok", "x": 1},
    {}, [], "question",
])
def test_wrong_types_are_422(api: httpx.Client, body: Any) -> None:
    r = api.post("/api/v1/ask", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("Invalid request")


def test_empty_question_is_422(api: httpx.Client) -> None:
    for question in ("", "   \n"):
        r = api.post("/api/v1/ask", json={"question": question})
        assert r.status_code == 422 and "question" in r.json()["detail"]
    r = api.post("/api/v1/retrieve", json={"query": " "})
    assert r.status_code == 422 and "query" in r.json()["detail"]


# ---- authentication -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"])
def test_api_token_is_required(secured: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path, body in (("GET", "/api/v1/health", None), ("POST", "/api/v1/ask", b"{broken"),
                               ("GET", "/api/v1/documents", None), ("POST", "/api/v1/documents", b"x" * 10)):
        r = httpx.request(method, secured + path, content=body, headers=headers, timeout=60)
        assert r.status_code == 401, (path, r.text)
        assert "Authorization: Bearer" in r.json()["detail"]
        assert r.headers["www-authenticate"] == "Bearer"


def test_right_api_token_is_accepted_everywhere(secured: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(secured + "/api/v1/health", headers=headers, timeout=60).status_code == 200
    r = httpx.post(secured + "/api/v1/ask", json={"question": ATACMS}, headers=headers, timeout=180)
    assert r.status_code == 200 and "190" in r.json()["answer"]
    assert httpx.get(secured + "/", headers=headers, timeout=60).status_code == 200
    schema = httpx.get(secured + "/openapi.json", headers=headers, timeout=60).json()
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_without_the_token_nothing_of_the_chat_is_reachable(secured: str, workspace: Path) -> None:
    """An attacker with curl only: Gradio's upload, every event handler (upload, remove, ask) and the pages
    answer 401 (a browser is sent to /login), and nothing changes on disk or in the index."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    before = httpx.get(secured + "/api/v1/documents", headers=headers, timeout=60).json()
    files_before = sorted(p.name for p in workspace.rglob("*") if p.is_file())
    for path in ("/", "/config", "/gradio_api/info", "/openapi.json", "/api/docs", "/gradio_api/queue/status"):
        r = httpx.get(secured + path, timeout=60)
        assert r.status_code == 401, (path, r.status_code)
        assert "/login" in r.json()["detail"]
    browser = httpx.get(secured + "/", headers={"Accept": "text/html"}, timeout=60)
    assert browser.status_code == 303 and browser.headers["location"] == "/login"
    planted = httpx.post(secured + "/gradio_api/upload", files={"files": ("planted.txt", b"planted text")}, timeout=60)
    assert planted.status_code == 401
    for fn_index in range(30):  # whatever the handler: upload, remove, ask
        r = httpx.post(secured + "/gradio_api/queue/join", timeout=60, json={
            "fn_index": fn_index, "data": ["seeds/biden-authorizes-atacms-strikes-inside-russia.txt"],
            "session_hash": "attacker"})
        assert r.status_code == 401, (fn_index, r.text)
    forged = httpx.get(secured + "/", cookies={"seedrag_session": "0" * 64}, timeout=60)
    assert forged.status_code == 401
    assert httpx.get(secured + "/api/v1/documents", headers=headers, timeout=60).json() == before
    assert sorted(p.name for p in workspace.rglob("*") if p.is_file() and not p.name.startswith("server-")) == [
        n for n in files_before if not n.startswith("server-")]


def test_the_login_page_gives_the_chat_a_session(secured: str) -> None:
    assert httpx.get(secured + "/login", timeout=60).status_code == 200
    wrong = httpx.post(secured + "/login", data={"token": "guess"}, timeout=60)
    assert wrong.status_code == 401 and "seedrag_session" not in wrong.cookies
    ok = httpx.post(secured + "/login", data={"token": TOKEN}, timeout=60)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert "httponly" in ok.headers["set-cookie"].lower() and "samesite=strict" in ok.headers["set-cookie"].lower()
    session = ok.cookies["seedrag_session"]
    assert TOKEN not in session
    page = httpx.get(secured + "/", cookies={"seedrag_session": session}, timeout=60)
    assert page.status_code == 200 and "gradio" in page.text.lower()
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(secured, verbose=False, headers={"Authorization": f"Bearer {TOKEN}"})
    result = client.predict(ATACMS, [], api_name="/ask")
    assert "190" in json.dumps(result[0][-1]["content"])


def test_a_question_over_the_limit_is_refused_in_the_chat_too(server: str) -> None:
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(server, verbose=False)
    result = client.predict("why " * 20_000, [], api_name="/ask")
    assert "the limit is 4,000" in json.dumps(result[0][-1]["content"])


# ---- the Gradio chat API ------------------------------------------------------------------------------------------
def test_gradio_client_calls_the_chat(server: str) -> None:
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(server, verbose=False)
    result = client.predict(ATACMS, [], api_name="/ask")
    history = result[0]
    assert history[-1]["role"] == "assistant"
    content = history[-1]["content"]
    text = content if isinstance(content, str) else json.dumps(content)
    assert "190" in text


# ---- several servers sharing one PostgreSQL index -----------------------------------------------------------------
def test_servers_sharing_a_postgresql_index_see_each_others_changes(workspace: Path, postgres_db_url: str) -> None:
    """Two `seedrag serve --store postgresql://...` processes behind, say, a load balancer: a document uploaded
    through one is answered from by the other, and a removal through the second is seen by the first, with
    no restart."""
    done = seedrag("index", "seeds", "--store", postgres_db_url, "--json", cwd=workspace)
    assert done.returncode == 0, done.stderr
    with serving(workspace, dict(index="unused-a", docs="docs-pg-a", store=postgres_db_url),
                 dict(index="unused-b", docs="docs-pg-b", store=postgres_db_url)) as (a, b), \
            httpx.Client(base_url=a, timeout=180) as api_a, httpx.Client(base_url=b, timeout=180) as api_b:
        assert _ask(api_b, ATACMS)["citations"]
        assert _ask(api_b, ZORBLAT_QUESTION)["refused"]
        r = _upload(api_a, ("zorblat.md", ZORBLAT.encode()))
        assert r.status_code == 200, r.text
        source = next(s for s in _documents(api_a) if s.endswith("zorblat.md"))
        assert source in _documents(api_b)
        answer = _ask(api_b, ZORBLAT_QUESTION)
        assert not answer["refused"] and "kelp paper" in answer["answer"]
        assert any(c["source"] == source for c in answer["citations"])
        cited = next(c for c in answer["citations"] if c["source"] == source)
        assert _text(api_b, source)[cited["start"]:cited["end"]] == cited["quote"]
        _delete(api_b, source)
        assert source not in _documents(api_a)
        assert _ask(api_a, ZORBLAT_QUESTION)["refused"]
        assert not (workspace / "unused-a").exists() and not (workspace / "unused-b").exists()


def test_a_crowd_gets_answers_or_an_explicit_busy_and_health_stays_up(workspace):
    """One answering slot and two waiting: of 16 questions at once, the admitted ones are answered, the rest
    are turned away at once with 503 + Retry-After (never a timeout or another error), and /health answers
    during the burst. The chat's questions share the slots and retry by themselves."""
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    questions = ["What is the range of the ATACMS missile?", "Who is the president of Ukraine?",
                 "What did Zelensky say?", "Where are North Korean troops?"] * 4
    with serve(workspace, "index", "docs", SEEDRAG_ANSWER_WORKERS="1", SEEDRAG_ANSWER_QUEUE="2") as url:
        with ThreadPoolExecutor(len(questions)) as pool:
            futures = [pool.submit(httpx.post, f"{url}/api/v1/ask", json={"question": q}, timeout=120)
                       for q in questions]
            health = httpx.get(f"{url}/api/v1/health", timeout=60)
            results = [f.result() for f in futures]
        after = httpx.post(f"{url}/api/v1/ask", json={"question": questions[0]}, timeout=120)
        chat_outcomes = _chat_crowd(url, questions[:10])
    codes = Counter(r.status_code for r in results)
    assert set(codes) <= {200, 503} and codes[200] >= 3 and codes[503] >= 1, codes
    for r in results:
        if r.status_code == 503:
            assert r.headers["retry-after"] == "1" and "busy" in r.json()["detail"]
        else:
            assert r.json()["question"] in questions
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert after.status_code == 200 and not after.json()["refused"]  # every slot was given back
    # the chat shares the slots: beyond them it says "busy, retrying", retries by itself, and every question is
    # answered
    assert chat_outcomes.count("answered") + chat_outcomes.count("answered after busy") == len(chat_outcomes), \
        chat_outcomes
    assert "answered after busy" in chat_outcomes


def _chat_crowd(url: str, questions: list[str]) -> list[str]:
    """Ask the chat (`/ask` through gradio_client) all at once: 'answered', 'answered after busy' (it showed
    the busy-retrying message first), or what went wrong, for each."""
    from concurrent.futures import ThreadPoolExecutor

    from rag.refusal import REFUSAL_TEXT
    from ui.app import message_text

    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(url, verbose=False)

    def one(question: str) -> str:
        job = client.submit(question, [], api_name="/ask")
        final = job.result(timeout=120)
        said = [message_text(out[0][-1]) for out in job.outputs() if out and out[0]]
        reply = message_text(final[0][-1])
        if final[0][-1]["role"] != "assistant" or not ("\\[1\\]" in reply or REFUSAL_TEXT in reply):
            return repr(final)[-300:]  # an error, or the chat gave up
        return "answered after busy" if any("busy" in t and "Retrying" in t for t in said) else "answered"

    with ThreadPoolExecutor(len(questions)) as pool:
        return list(pool.map(one, questions))


def test_a_wrong_method_is_405_and_an_unknown_api_path_a_json_404(api: httpx.Client) -> None:
    r = api.get("/api/v1/ask")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and "use POST" in r.json()["detail"]
    r = api.put("/api/v1/documents")
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
    r = api.get("/api/v1/no-such-route")
    assert r.status_code == 404 and "/api/docs" in r.json()["detail"]
    assert api.get("/api/v1/health").status_code == 200  # the real routes still come first
