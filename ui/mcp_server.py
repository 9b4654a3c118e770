"""`seedrag mcp`: the index as a Model Context Protocol server over stdio (the official `mcp` SDK), for the
desktop assistants and IDE agents that reach documents through MCP.

Tools (each returns JSON, also as structured content):

    search(query, k=5)                    passages best first: id, source, start/end offsets, page, section, text
    ask(question, history=[])             answer with [n] markers, refused, citations with their quotes
    list_documents()                      id, source, title, chars of every indexed document
    get_document(id, start=0, end=None)   a document's text, or a character range of it (the offsets of `search`
                                          and of citations index into it)

The engine is opened before the first message (`seedrag mcp` fails at once, naming the fix, when there is no
index); a change of the index (`seedrag index`, a watch, an upload through a running server) is seen on the
next call.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Annotated, Any

from pydantic import Field

from ui.library import document_id

MAX_DOCUMENT_CHARS = 50_000  # one get_document call; ask for the next range with start=

INSTRUCTIONS = (
    "seedrag answers questions from the user's own indexed documents, offline, with citations whose quotes are "
    "checked against the document text. Use `ask` for a question; when it says refused=true the documents do not "
    "state the answer: tell the user so instead of guessing. Use `search` to read the passages themselves, and "
    "`get_document` with a citation's offsets to read around it.")

ASK = ("Answer a question from the indexed documents only. Returns `answer` (text with [n] markers), `refused` "
       "and `citations` (source, start/end character offsets, the quote: exact text of the document). "
       "refused=true means the documents do not contain the answer (the calibrated evidence gate did not pass): "
       "say that the documents do not say, do not answer from memory. `confidence` is the estimated probability "
       "that the answer is right. Pass earlier questions in `history` for a follow-up like 'and when was it?'.")
SEARCH = ("Search the indexed documents: the k passages that best match the query (hybrid dense + BM25), best "
          "first, each with its document id, source, start/end character offsets, page, section and text. No "
          "answer is made; use `ask` for one.")
LIST = "List the indexed documents: id (for get_document), source (file name), title and length in characters."
GET = (f"The text of one indexed document by its id (from list_documents or search) or source name, or the "
       f"characters start..end of it; at most {MAX_DOCUMENT_CHARS:,} characters per call (`next_start` says "
       f"where to go on).")


def create_server(rag: Any) -> Any:
    """The MCP server over `rag` (an `rag.engine.RAG`), not yet running."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp_types import ToolAnnotations

    server = MCPServer("seedrag", instructions=INSTRUCTIONS)
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    def checked(call: Any) -> Any:
        from index.errors import SeedragError

        try:
            return call()
        except SeedragError as exc:
            raise ToolError(str(exc)) from exc

    @server.tool(description=ASK, annotations=read_only)
    def ask(question: Annotated[str, Field(description="the question, in words")],
            history: Annotated[list[str], Field(description="earlier questions of the conversation, oldest first",
                                                max_length=50)] | None = None) -> dict[str, Any]:
        answer = checked(lambda: rag.ask(question, history=history or []))
        out = answer.to_json()
        return {key: out[key] for key in ("answer", "refused", "citations", "confidence", "highlight",
                                          "standalone_question", "mode")}

    @server.tool(description=SEARCH, annotations=read_only)
    def search(query: Annotated[str, Field(description="what to look for")],
               k: Annotated[int, Field(ge=1, le=50, description="how many passages")] = 5) -> dict[str, Any]:
        hits = checked(lambda: rag.retrieve(query, k=k))
        return {"passages": [{"id": document_id(h.source), **h.to_json()} for h in hits]}

    @server.tool(description=LIST, annotations=read_only)
    def list_documents() -> dict[str, Any]:
        rows = []
        for source in checked(rag.documents):
            doc = rag.document(source)
            rows.append({"id": document_id(source), "source": source, "title": doc.title if doc else "",
                         "chars": len(doc.text) if doc else 0})
        return {"documents": rows}

    @server.tool(description=GET, annotations=read_only)
    def get_document(id: Annotated[str, Field(description="a document id, or its source name")],
                     start: Annotated[int, Field(ge=0, description="first character")] = 0,
                     end: Annotated[int | None, Field(ge=0, description="one past the last character")] = None,
                     ) -> dict[str, Any]:
        sources = checked(rag.documents)
        source = next((s for s in sources if id in (s, document_id(s))), None)
        doc = rag.document(source) if source is not None else None
        if doc is None:
            raise ToolError(f"No indexed document has the id or source {id!r}; list them with list_documents.")
        stop = min(len(doc.text), end if end is not None else len(doc.text), start + MAX_DOCUMENT_CHARS)
        if start > stop:
            raise ToolError(f"start ({start}) is past the end of {source!r} ({len(doc.text)} characters).")
        more = stop < (min(end, len(doc.text)) if end is not None else len(doc.text))
        return {"id": document_id(doc.source), "source": doc.source, "title": doc.title, "chars": len(doc.text),
                "start": start, "end": stop, "text": doc.text[start:stop], "next_start": stop if more else None,
                "pages": list(doc.pages)}

    return server


def run(settings: Any) -> None:
    """Open the index and serve MCP over stdin/stdout until the client closes it."""
    from rag.engine import RAG

    with contextlib.redirect_stdout(sys.stderr):  # stdout is the protocol's: nothing else may write there
        rag = RAG.open(settings=settings)
        rag.warm_up()
    print(f"seedrag: MCP server over stdio on {settings.store_location} ({len(rag.documents())} documents)",
          file=sys.stderr, flush=True)
    create_server(rag).run("stdio")
