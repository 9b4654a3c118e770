"""End to end in a real browser: Debian's chromium driven by playwright against a real server process."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEEDS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed (make test installs it)"),
]

EVIL = """# Evil page notes
The zorblax festival is held every April in Quonset.
Here is markup: <script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned = 2">.
"""


_INDEX: dict[str, str] = {}


def server_index(url: str) -> str:
    return _INDEX[url]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    docs = root / "docs"
    shutil.copytree(SEEDS, docs)
    (docs / "evil.txt").write_text(EVIL)  # plain text: its markup characters are text
    env = {**os.environ, "SEEDRAG_INDEX_DIR": str(root / "index"), "SEEDRAG_DOCS_DIR": str(docs)}
    env.pop("SEEDRAG_API_TOKEN", None)
    cli = [sys.executable, "-m", "ui.cli"]
    subprocess.run([*cli, "index", str(docs)], env=env, check=True, capture_output=True, cwd=root)
    port = free_port()
    proc = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("server did not start: " + proc.stdout.read().decode(errors="replace")[-2000:])
    _INDEX[url] = str(root / "index")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync", "--disable-quic"])
        yield b
        b.close()


def answered_after(page, question: str) -> None:
    """Wait until the chat shows an answer (a citation or the refusal) after `question`."""
    page.wait_for_function("""q => { const t = document.querySelector('#seedrag-chat')?.innerText || '';
                                     const after = t.split(q)[1] || '';
                                     return after.includes('[1]') || after.includes('could not find the answer'); }""",
                           arg=question, timeout=60_000)


def open_chat(browser, server: str):
    """A new page on the chat, once its question box is there."""
    page = browser.new_page()
    page.goto(server, wait_until="domcontentloaded")
    page.locator("#seedrag-question textarea").wait_for(timeout=60_000)
    return page


def ask(page, question: str) -> None:
    box = page.locator("#seedrag-question textarea")
    box.fill(question)
    box.press("Enter")


def test_ask_cite_click_follow_up(server, browser, tmp_path):
    page = open_chat(browser, server)
    ask(page, "What is the range of the ATACMS missile?")
    chat = page.locator("#seedrag-chat")
    chat.get_by_text("190 miles", exact=False).first.wait_for(timeout=60_000)
    assert "[1]" in chat.inner_text()
    # click the citation: the viewer opens the document with the cited span highlighted
    page.locator("#seedrag-citations label").first.click()
    mark = page.locator("#seedrag-cited")
    mark.wait_for(timeout=20_000)
    assert "190 miles (300 kilometers)" in mark.inner_text()
    page.wait_for_timeout(800)
    assert page.evaluate("""() => { const r = document.getElementById('seedrag-cited').getBoundingClientRect();
                                    const v = r.top >= 0 && r.bottom <= window.innerHeight; return v; }""")
    page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
    # thumbs up: the vote lands in the feedback file with the question, the answer and its citations
    feedback = Path(server_index(server)) / "feedback.jsonl"
    before = feedback.read_text().count("\n") if feedback.exists() else 0
    chat.get_by_role("button", name="Like").last.click()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (feedback.read_text().count("\n") if feedback.exists() else 0) == before:
        time.sleep(0.2)
    row = json.loads(feedback.read_text().splitlines()[-1])
    assert row["liked"] is True and row["question"] == "What is the range of the ATACMS missile?"
    assert "190 miles" in row["answer"] and row["citations"][0]["quote"] in row["answer"]
    # a follow-up is resolved against the conversation and the searched question is shown
    ask(page, "and how far can it fly?")
    chat.get_by_text("searched for", exact=False).first.wait_for(timeout=60_000)
    searched = chat.get_by_text("searched for", exact=False).first.inner_text()
    assert "ATACMS" in searched and "how far can it fly" in searched
    page.wait_for_function("document.querySelector('#seedrag-chat')?.innerText.split('190 miles').length > 2",
                           timeout=60_000)


def test_a_question_sent_while_an_answer_is_on_its_way_is_kept_and_answered(server, browser):
    page = open_chat(browser, server)
    chat = page.locator("#seedrag-chat")
    # a long first question keeps its answer on its way for a while (the models read every word of it)
    first = "What is the range of the ATACMS missile, " + "and how far can the missile fly into Russia, " * 30
    ask(page, first.strip(", ") + "?")
    chat.get_by_text("What is the range", exact=False).first.wait_for(timeout=60_000)  # shown; its answer is not
    ask(page, "Who is the president of Ukraine?")  # Gradio's default trigger_mode ("once") ignored this Enter,
    # and the answer's later updates emptied the box
    page.wait_for_function("document.querySelector('#seedrag-chat')?.innerText.includes('Who is the president')",
                           timeout=60_000)
    answered_after(page, "Who is the president of Ukraine?")
    first_turn, second_turn = chat.inner_text().split("Who is the president of Ukraine?")
    for turn in (first_turn, second_turn):  # each question got its own answer or refusal
        assert "[1]" in turn or "could not find the answer" in turn
    assert page.locator("#seedrag-question textarea").input_value() == ""  # sent, not left behind


def test_a_question_typed_as_soon_as_an_answer_appears_is_answered_too(server, browser):
    page = open_chat(browser, server)
    ask(page, "What is the range of the ATACMS missile?")
    # the moment the first answer's [1] shows (its last updates are still arriving), the next question goes in
    page.wait_for_function("document.querySelector('#seedrag-chat')?.innerText.includes('[1]')", timeout=60_000)
    ask(page, "Who is the president of Ukraine?")
    answered_after(page, "Who is the president of Ukraine?")
    first_turn, second_turn = page.locator("#seedrag-chat").inner_text().split("Who is the president of Ukraine?")
    assert "190 miles" in first_turn and "[1]" in first_turn
    assert "[1]" in second_turn or "could not find the answer" in second_turn
    assert page.locator("#seedrag-question textarea").input_value() == ""
    page.close()


def test_document_markup_is_shown_as_text_and_never_runs(server, browser):
    page = open_chat(browser, server)
    ask(page, "When is the zorblax festival held?")
    page.wait_for_function("document.querySelector('#seedrag-chat')?.innerText.includes('zorblax')", timeout=60_000)
    page.get_by_text("Retrieved passages").click()
    page.wait_for_function(
        "document.querySelector('#seedrag-sources')?.innerText.includes('<script>window.__pwned = 1</script>')",
        timeout=30_000)
    page.locator("#seedrag-citations label").first.click()
    page.locator("#seedrag-cited").wait_for(timeout=20_000)
    assert "<img src=x onerror" in page.locator("#seedrag-viewer").inner_text()
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#seedrag-viewer img, #seedrag-sources img, #seedrag-viewer script").count() == 0


def test_upload_in_the_chat_then_ask_then_remove(server, browser, tmp_path):
    note = tmp_path / "glorp.md"
    note.write_text("# Glorp notes\nThe glorpian telescope was built in 1987 on Mount Vexley.\n")
    page = browser.new_page()
    page.goto(server, wait_until="domcontentloaded")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#seedrag-upload input[type=file]").set_input_files(str(note))
    page.wait_for_function(
        "document.querySelector('#seedrag-upload-status')?.innerText.includes('glorp.md')", timeout=90_000)
    assert "glorp.md" in page.locator("#seedrag-documents").inner_text()
    page.get_by_role("tab", name="Chat").click()
    ask(page, "Where was the glorpian telescope built?")
    page.wait_for_function("document.querySelector('#seedrag-chat')?.innerText.includes('Mount Vexley')",
                           timeout=60_000)
    # a bad upload is refused with a message and loses nothing
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01binary")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#seedrag-upload input[type=file]").set_input_files(str(bad))
    page.wait_for_function(
        "document.querySelector('#seedrag-upload-status')?.innerText.includes('Not added')", timeout=60_000)
    assert "binary" in page.locator("#seedrag-upload-status").inner_text()
    assert "glorp.md" in page.locator("#seedrag-documents").inner_text()
    # remove it again
    page.locator("#seedrag-pick input").click()
    page.get_by_role("option", name="glorp.md").first.click()
    page.locator("#seedrag-remove").click()
    page.wait_for_function("(el => el !== null && !el.innerText.includes('glorp.md'))"
                           "(document.querySelector('#seedrag-documents'))",
                           timeout=60_000)


def test_an_upload_shows_its_progress_and_a_reload_shows_changes_made_elsewhere(server, browser, tmp_path):
    import gradio_client

    readme = Path(gradio_client.__file__).with_name("CHANGELOG.md")  # a real, hard-wrapped Markdown file
    upload = tmp_path / "gradio-client-changelog.md"
    shutil.copyfile(readme, upload)
    page = browser.new_page()
    page.goto(server, wait_until="domcontentloaded")
    page.wait_for_function("document.querySelector('#seedrag-info')?.innerText.includes('chunks from')")
    page.get_by_role("tab", name="Documents").click()
    # every text the page shows while the upload is indexed, sampled by a MutationObserver
    page.evaluate("""() => { window.__seen = []; new MutationObserver(() => {
        const t = document.body.innerText; if (t.includes('Indexing 1 file')) window.__seen.push(t);
    }).observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
    page.locator("#seedrag-upload input[type=file]").set_input_files(str(upload))
    page.wait_for_function(
        "document.querySelector('#seedrag-upload-status')?.innerText.includes('gradio-client-changelog.md')",
        timeout=180_000)
    seen = page.evaluate("window.__seen")
    counts = [m for text in seen for m in re.findall(r"\b\d+/\d+ chunks\b", text)]
    assert counts, seen[-3:] if seen else "no progress was shown"  # Gradio's bar: "64/136 chunks | 1.2s"
    info = page.locator("#seedrag-info").inner_text()
    # the document is removed by another process (the CLI, on the same index); a reload shows it
    env = {**os.environ, "SEEDRAG_INDEX_DIR": server_index(server)}
    done = subprocess.run([sys.executable, "-m", "ui.cli", "remove", "docs/gradio-client-changelog.md"], env=env,
                          capture_output=True, text=True, cwd=Path(server_index(server)).parent)
    assert done.returncode == 0, done.stderr
    page.reload(wait_until="domcontentloaded")
    page.wait_for_function(f"(t => t && !t.includes({json.dumps(info)}) && t.includes('chunks from'))"
                           "(document.querySelector('#seedrag-info')?.innerText)", timeout=60_000)
    page.get_by_role("tab", name="Documents").click()
    assert "gradio-client-changelog.md" not in page.locator("#seedrag-documents").inner_text()
    page.close()
