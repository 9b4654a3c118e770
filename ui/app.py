"""The Gradio chat: question in; streamed answer with numbered citations, sources panel, document viewer.

`Chat` holds the event handlers (questions, uploads, removals, citations, votes) over one engine; `build_app`
lays out the page and wires them.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable
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
WORDS_PER_UPDATE = 8  # the checked answer streams in this many words at a time
GAVE_UP = "*The server stayed busy for a minute. Please ask again in a moment.*"


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message; Gradio 6 normalises content to a list of {"type": "text", "text": ...}."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def turns_of(history: list[dict[str, Any]], answers: dict[int, Any]) -> list[Turn]:
    """The earlier questions with the answer phrase of each (from the session's answers), oldest first."""
    out = []
    for i, m in enumerate(history):
        if m.get("role") == "user":
            shown = answers.get(i + 1)
            highlight = shown[1].get("highlight") if shown and not shown[1].get("refused") else None
            out.append(Turn(message_text(m), highlight["text"] if highlight else ""))
    return out


class Chat:
    """The chat's handlers over `rag`: writes serialised by `lock`, questions bounded by `slots`."""

    def __init__(self, rag: Any, lock: threading.Lock, slots: AnswerSlots) -> None:
        import gradio as gr

        self.gr = gr
        self.rag = rag
        self.settings = rag.settings
        self.lock = lock
        self.slots = slots

    # ---- the header and the Documents tab -------------------------------------------------------------------
    def info(self) -> str:
        rag = self.rag
        return (f"Index: `{self.settings.store_location}` · {rag.store.chunk_count()} chunks from "
                f"{len(rag.documents())} documents · model `{rag.embedder.name}` · answers: {rag.mode}")

    def library(self) -> tuple[str, Any]:
        docs = self.rag.documents()
        table = "\n".join(f"- `{s}`" for s in docs) or "*No documents yet.*"
        return table, self.gr.update(choices=docs, value=None)

    def refresh(self) -> tuple[Any, ...]:
        """On each page load: the index may have changed (a watch, another server)."""
        return (self.info(), *self.library())

    def upload(self, paths: list[str] | None, progress: Any = None) -> tuple[Any, ...]:
        """Save and index the files, with Gradio's progress bar (chunks embedded of the total, time left)."""
        if not paths:
            return ("", *self.library(), self.info(), None)
        files_word = f"{len(paths)} file{'s' if len(paths) > 1 else ''}"
        if progress is not None:
            progress(0, desc=f"Checking {files_word}…")

        def embedding(done: int, total: int) -> None:
            if progress is not None:
                progress((done, total), desc=f"Indexing {files_word}", unit="chunks")

        handles = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed below
        try:
            report, sources = add_files(self.rag, Path(self.settings.docs_dir).resolve(),
                                        [(Path(p).name, h) for p, h in zip(paths, handles, strict=True)],
                                        int(self.settings.max_upload_mb * 1024 * 1024), self.lock, progress=embedding)
            c = report.counts()
            message = (f"Indexed {', '.join(sources)}: added {c['added']}, updated {c['updated']}; "
                       f"{c['chunks']} chunks in the index.")
        except UploadRejected as exc:
            message = f"**Not added:** {exc}"
        finally:
            for h in handles:
                h.close()
        return (message, *self.library(), self.info(), None)

    def remove(self, source: str | None) -> tuple[Any, ...]:
        if not source:
            return ("Pick a document to remove.", *self.library(), self.info())
        removed, _ = remove_document(self.rag, source, Path(self.settings.docs_dir).resolve(), self.lock)
        return (f"Removed `{source}`." if removed else f"`{source}` was not indexed.", *self.library(), self.info())

    # ---- questions --------------------------------------------------------------------------------------------
    async def respond(self, message: str, history: list[dict[str, Any]],
                      answers: dict[int, Any]) -> AsyncIterator[tuple[Any, ...]]:
        """Stream the answer; `answers` (per session) maps a chat message index to (question, answer JSON).

        The outputs: chat, question box, sources panel, citation choices, citations, answers. A question waits
        for an answering slot shared with the REST API (`ui.admission`), saying so while it waits and retrying
        by itself while the server is busy."""
        skip = self.gr.update()
        history = list(history or [])
        question = (message or "").strip()
        if not question:
            yield history, "", skip, skip, skip, skip
            return
        previous = turns_of(history, answers or {})
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": "…"}]
        yield history, "", skip, skip, skip, skip  # the question leaves the box once; later yields leave the box
        # alone, so a question typed while this answer streams is kept (and sent when it ends: trigger_mode)

        def show(text: str) -> tuple[Any, ...]:
            history[-1] = {"role": "assistant", "content": text}
            return history, skip, skip, skip, skip, skip

        try:
            async for wait in waiting(self.slots):
                yield show(f"*{escape(wait)}*")
        except Busy:
            yield show(GAVE_UP)
            return
        answer = None
        async for draft, done in self._answer(question, previous):
            if done is None:
                yield show(f"{escape(draft)} ▌ *(checking citations…)*")  # an LLM's draft, unchecked
            elif isinstance(done, Exception):
                yield show(f"**Error:** {escape(str(done))}")
                return
            else:
                answer = done
        assert answer is not None
        words = answer_markdown(answer).split(" ")
        for i in range(0, len(words), WORDS_PER_UPDATE):  # the checked text streams in, then the final message
            yield show(" ".join(words[: i + WORDS_PER_UPDATE]))
        answers = {**(answers or {}), len(history) - 1: (question, answer.to_json())}
        choices = [f"[{c.n}] {c.source}:{c.start}-{c.end}" for c in answer.citations]
        yield (history, skip, sources_html(answer), self.gr.update(choices=choices, value=None),
               [c.to_json() for c in answer.citations], answers)

    async def _answer(self, question: str, previous: list[Turn]) -> AsyncIterator[tuple[str, Any]]:
        """Answer in a thread while holding a slot (released when the work ends): (draft so far, None) while an
        LLM writes, then ("", the Answer) or ("", the exception)."""
        pieces: queue.Queue[str | None] = queue.Queue()
        result: dict[str, Any] = {}
        loop = asyncio.get_running_loop()

        def work() -> None:
            try:
                result["answer"] = self.rag.ask(question, history=previous, on_token=pieces.put)
            except Exception as exc:  # shown in the chat, not lost in a thread
                result["answer"] = exc
            finally:
                pieces.put(None)
                loop.call_soon_threadsafe(self.slots.release)  # the slot is free when the work is, not before

        threading.Thread(target=work, daemon=True).start()
        draft = ""
        while (piece := await asyncio.to_thread(pieces.get)) is not None:
            draft += piece
            yield draft, None
        yield "", result["answer"]

    # ---- citations and votes ------------------------------------------------------------------------------------
    def open_citation(self, choice: str | None, citations: list[dict[str, Any]]) -> str:
        if not choice:
            return ""
        n = int(choice[1:choice.index("]")])
        c = next(c for c in citations if c["n"] == n)
        doc = self.rag.document(c["source"])
        return document_html(doc.text, c["start"], c["end"], c["source"]) if doc else "Document not found."

    def vote_handler(self) -> Callable[..., None]:
        """The like/dislike handler: appends the vote to the index's feedback file. Gradio finds the LikeData
        parameter by its annotation, so the function carries the real class (annotations here are strings)."""
        def vote(answers: dict[int, Any], data: Any) -> None:
            index = data.index if isinstance(data.index, int) else data.index[0]
            if answers and index in answers:
                question, answer = answers[index]
                record(self.settings.index_dir, question, answer, bool(data.liked))

        vote.__annotations__["data"] = self.gr.LikeData
        return vote


def build_app(rag: Any, write_lock: threading.Lock | None = None, slots: AnswerSlots | None = None) -> Any:
    """The chat over `rag`; `write_lock` serialises writes, `slots` (shared with the REST API in one server)
    bounds the questions answered at once."""
    import gradio as gr

    settings = rag.settings
    h = Chat(rag, write_lock or threading.Lock(),
             slots or AnswerSlots(settings.answer_workers, settings.answer_queue))
    private: dict[str, Any] = {"api_visibility": "private"}
    with gr.Blocks(title="seedrag") as app:
        gr.Markdown("## seedrag: ask your documents")
        status = gr.Markdown(h.info(), elem_id="seedrag-info")
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
                            type="filepath", file_types=list(SUPPORTED_SUFFIXES), elem_id="seedrag-upload")
            upload_status = gr.Markdown(elem_id="seedrag-upload-status")
            listing = gr.Markdown(h.library()[0], elem_id="seedrag-documents")
            with gr.Row():
                pick = gr.Dropdown(label="Remove a document", choices=rag.documents(), elem_id="seedrag-pick")
                drop = gr.Button("Remove", variant="stop", elem_id="seedrag-remove")
        files.upload(lambda paths, progress=gr.Progress(): h.upload(paths, progress), files,  # noqa: B008
                     [upload_status, listing, pick, status, files], **private)
        drop.click(h.remove, pick, [upload_status, listing, pick, status], **private)
        citations = gr.State([])
        answers = gr.State({})
        # "always_last": Enter while an answer streams sends the question when that answer ends (the default,
        # "once", dropped it); concurrency_limit=None: the answering slots bound the questions, not Gradio's queue
        box.submit(h.respond, [box, chat, answers], [chat, box, sources, cite, citations, answers], api_name="ask",
                   trigger_mode="always_last", concurrency_limit=None)
        chat.like(h.vote_handler(), answers, None, **private)
        cite.change(h.open_citation, [cite, citations], viewer, **private).then(None, js=SCROLL_TO_MARK)
        app.load(h.refresh, None, [status, listing, pick], **private)
    # uploads and removals run one per core at most; the questions are bounded by the shared answering slots
    app.queue(default_concurrency_limit=worker_count(settings.answer_workers))
    return app
