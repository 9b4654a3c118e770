"""The Gradio chat: question in; streamed answer with numbered citations, sources panel, document viewer."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator
from html import escape
from pathlib import Path
from typing import Any

from index.documents import SUPPORTED_SUFFIXES
from rag.conversation import Turn
from ui.admission import AnswerSlots, Busy, waiting, worker_count
from ui.feedback import record
from ui.library import UploadRejected, add_files, remove_document
from ui.render import answer_markdown, document_html, sources_html

SCROLL_TO_MARK = "() => { setTimeout(() => { const m = document.getElementById('seedrag-cited'); " \
                 "if (m) m.scrollIntoView({block: 'center'}); }, 300); }"


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message; Gradio 6 normalises content to a list of {"type": "text", "text": ...}."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def build_app(rag: Any, write_lock: threading.Lock | None = None, slots: AnswerSlots | None = None) -> Any:
    """The chat over `rag`; `write_lock` serialises writes, `slots` (shared with the REST API in one server)
    bounds the questions answered at once."""
    import gradio as gr

    settings = rag.settings
    lock = write_lock or threading.Lock()
    slots = slots or AnswerSlots(settings.answer_workers, settings.answer_queue)

    def info() -> str:
        return (f"Index: `{settings.store_location}` · {rag.store.chunk_count()} chunks from "
                f"{len(rag.documents())} documents · model `{rag.embedder.name}` · answers: {rag.mode}")

    def library() -> tuple[str, Any]:
        docs = rag.documents()
        table = "\n".join(f"- `{s}`" for s in docs) or "*No documents yet.*"
        return table, gr.update(choices=docs, value=None)

    def upload(paths: list[str] | None, progress: Any = None) -> tuple[Any, ...]:
        if not paths:
            return ("", *library(), info(), None)
        files_word = f"{len(paths)} file{'s' if len(paths) > 1 else ''}"
        if progress is not None:
            progress(0, desc=f"Checking {files_word}…")

        def embedding(done: int, total: int) -> None:  # the bar, its count of chunks and time left in the chat
            if progress is not None:
                progress((done, total), desc=f"Indexing {files_word}", unit="chunks")

        handles = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed below
        try:
            report, sources = add_files(rag, Path(settings.docs_dir).resolve(),
                                        [(Path(p).name, h) for p, h in zip(paths, handles, strict=True)],
                                        int(settings.max_upload_mb * 1024 * 1024), lock, progress=embedding)
            c = report.counts()
            message = (f"Indexed {', '.join(sources)}: added {c['added']}, updated {c['updated']}; "
                       f"{c['chunks']} chunks in the index.")
        except UploadRejected as exc:
            message = f"**Not added:** {exc}"
        finally:
            for h in handles:
                h.close()
        return (message, *library(), info(), None)

    def refresh() -> tuple[Any, ...]:  # on each page load: the index may have changed (a watch, another server)
        return (info(), *library())

    def remove(source: str | None) -> tuple[Any, ...]:
        if not source:
            return ("Pick a document to remove.", *library(), info())
        removed, _ = remove_document(rag, source, Path(settings.docs_dir).resolve(), lock)
        return (f"Removed `{source}`." if removed else f"`{source}` was not indexed.", *library(), info())

    def turns_of(history: list[dict[str, Any]], answers: dict[int, Any]) -> list[Turn]:
        """The earlier questions with the answer phrase of each (from the session's answers), oldest first."""
        out = []
        for i, m in enumerate(history):
            if m.get("role") == "user":
                shown = answers.get(i + 1)
                highlight = shown[1].get("highlight") if shown and not shown[1].get("refused") else None
                out.append(Turn(message_text(m), highlight["text"] if highlight else ""))
        return out

    async def respond(message: str, history: list[dict[str, Any]],
                      answers: dict[int, Any]) -> AsyncIterator[tuple[Any, ...]]:
        """Stream the answer; `answers` (per session) maps a chat message index to (question, answer JSON).
        A question waits for an answering slot shared with the REST API (`ui.admission`), saying so while
        it waits and retrying by itself while the server is busy."""
        skip = gr.update()
        history = list(history or [])
        question = (message or "").strip()
        if not question:
            yield history, "", skip, skip, skip, skip
            return
        previous = turns_of(history, answers or {})
        history.append({"role": "user", "content": question})
        history.append({"role": "assistant", "content": "…"})
        yield history, "", skip, skip, skip, skip  # the question leaves the box once; later yields leave the box
        # alone, so a question typed while this answer streams is kept (and sent when it ends: trigger_mode)
        try:
            async for wait in waiting(slots):
                history[-1] = {"role": "assistant", "content": f"*{escape(wait)}*"}
                yield history, skip, skip, skip, skip, skip
        except Busy:
            history[-1] = {"role": "assistant", "content": "*The server stayed busy for a minute. Please ask "
                                                           "again in a moment.*"}
            yield history, skip, skip, skip, skip, skip
            return
        pieces: queue.Queue[str | None] = queue.Queue()
        result: dict[str, Any] = {}
        loop = asyncio.get_running_loop()

        def work() -> None:  # the LLM's draft streams through the queue while the answer is made
            try:
                result["answer"] = rag.ask(question, history=previous, on_token=pieces.put)
            except Exception as exc:  # shown in the chat, not lost in a thread
                result["error"] = exc
            finally:
                pieces.put(None)
                loop.call_soon_threadsafe(slots.release)  # the slot is free when the work is, not before

        threading.Thread(target=work, daemon=True).start()
        draft = ""
        while (piece := await asyncio.to_thread(pieces.get)) is not None:
            draft += piece
            history[-1] = {"role": "assistant", "content": f"{escape(draft)} ▌ *(checking citations…)*"}
            yield history, skip, skip, skip, skip, skip
        if "error" in result:
            history[-1] = {"role": "assistant", "content": f"**Error:** {escape(str(result['error']))}"}
            yield history, skip, skip, skip, skip, skip
            return
        answer = result["answer"]
        words = answer_markdown(answer).split(" ")
        for i in range(0, len(words), 8):  # stream the checked text in, then the final message with citations
            history[-1] = {"role": "assistant", "content": " ".join(words[: i + 8])}
            yield history, skip, skip, skip, skip, skip
        answers = {**(answers or {}), len(history) - 1: (question, answer.to_json())}
        choices = [f"[{c.n}] {c.source}:{c.start}-{c.end}" for c in answer.citations]
        state = [c.to_json() for c in answer.citations]
        yield history, skip, sources_html(answer), gr.update(choices=choices, value=None), state, answers

    def open_citation(choice: str | None, citations: list[dict[str, Any]]) -> str:
        if not choice:
            return ""
        n = int(choice[1:choice.index("]")])
        c = next(c for c in citations if c["n"] == n)
        doc = rag.document(c["source"])
        return document_html(doc.text, c["start"], c["end"], c["source"]) if doc else "Document not found."

    def vote(answers: dict[int, Any], data: gr.LikeData) -> None:
        index = data.index if isinstance(data.index, int) else data.index[0]
        if answers and index in answers:
            question, answer = answers[index]
            record(settings.index_dir, question, answer, bool(data.liked))

    # gradio finds the LikeData parameter by its annotation; with postponed annotations it is a string
    vote.__annotations__["data"] = gr.LikeData

    with gr.Blocks(title="seedrag") as app:
        gr.Markdown("## seedrag: ask your documents")
        status = gr.Markdown(info(), elem_id="seedrag-info")
        with gr.Tab("Chat"), gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=480, sanitize_html=True, elem_id="seedrag-chat")
                box = gr.Textbox(placeholder="Ask a question about your documents…", show_label=False,
                                 elem_id="seedrag-question", submit_btn=True)
            with gr.Column(scale=2):
                cite = gr.Radio(label="Open a citation", choices=[], elem_id="seedrag-citations")
                viewer = gr.HTML(elem_id="seedrag-viewer")
                with gr.Accordion("Retrieved passages", open=False):
                    sources = gr.HTML(elem_id="seedrag-sources")
        with gr.Tab("Documents"):
            files = gr.File(label=f"Add documents ({' '.join(SUPPORTED_SUFFIXES)})", file_count="multiple",
                            type="filepath", file_types=list(SUPPORTED_SUFFIXES),
                            elem_id="seedrag-upload")
            upload_status = gr.Markdown(elem_id="seedrag-upload-status")
            listing = gr.Markdown(library()[0], elem_id="seedrag-documents")
            with gr.Row():
                pick = gr.Dropdown(label="Remove a document", choices=rag.documents(), elem_id="seedrag-pick")
                drop = gr.Button("Remove", variant="stop", elem_id="seedrag-remove")
        files.upload(lambda paths, progress=gr.Progress(): upload(paths, progress), files,  # noqa: B008
                     [upload_status, listing, pick, status, files], api_visibility="private")
        drop.click(remove, pick, [upload_status, listing, pick, status], api_visibility="private")
        citations = gr.State([])
        answers = gr.State({})
        # "always_last": Enter while an answer streams sends the question when that answer ends (the default,
        # "once", dropped it)
        # concurrency_limit=None: the answering slots (`waiting`) bound the chat's questions, not Gradio's queue
        box.submit(respond, [box, chat, answers], [chat, box, sources, cite, citations, answers], api_name="ask",
                   trigger_mode="always_last", concurrency_limit=None)
        chat.like(vote, answers, None, api_visibility="private")
        cite.change(open_citation, [cite, citations], viewer, api_visibility="private").then(None, js=SCROLL_TO_MARK)
        app.load(refresh, None, [status, listing, pick], api_visibility="private")
    # uploads and removals run one per core at most; the questions are bounded by the shared answering slots
    app.queue(default_concurrency_limit=worker_count(rag.settings.answer_workers))
    return app
