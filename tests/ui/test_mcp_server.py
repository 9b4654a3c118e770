"""`seedrag mcp` as an agent meets it: the official MCP SDK's client starts it over stdio on the seed index."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ATACMS, env

UNANSWERABLE = "What is the population of Lisbon?"


def _session(workspace: Path, errlog: Any, index: str = "index") -> Any:
    """The SDK's client over stdio to `seedrag mcp`; its stderr goes to `errlog` (stdio_client's default is the
    sys.stderr of the moment mcp was first imported, which under pytest may be a capture without a file)."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "ui.cli", "mcp", "--index-dir", index],
                                   cwd=str(workspace), env=env())
    return Client(stdio_client(params, errlog=errlog))


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert json.loads(result.content[0].text) == result.structured_content  # the same JSON as text for any client
    return dict(result.structured_content)


def test_an_agent_lists_the_tools_and_asks_with_a_verified_citation(workspace: Path, tmp_path: Path) -> None:
    async def session() -> dict[str, Any]:
        with open(tmp_path / "mcp-stderr.log", "w") as errlog:
            return await talk(errlog)

    async def talk(errlog: Any) -> dict[str, Any]:
        async with _session(workspace, errlog) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            out: dict[str, Any] = {"tools": tools}
            out["ask"] = _data(await client.call_tool("ask", {"question": ATACMS}))
            out["refused"] = _data(await client.call_tool("ask", {"question": UNANSWERABLE}))
            out["search"] = _data(await client.call_tool("search", {"query": "ATACMS range", "k": 3}))
            out["documents"] = _data(await client.call_tool("list_documents", {}))
            (doc,) = out["documents"]["documents"]
            out["whole"] = _data(await client.call_tool("get_document", {"id": doc["id"]}))
            c = out["ask"]["citations"][0]
            out["range"] = _data(await client.call_tool("get_document", {"id": doc["source"], "start": c["start"],
                                                                         "end": c["end"]}))
            out["missing"] = await client.call_tool("get_document", {"id": "0123456789abcdef"})
            out["empty"] = await client.call_tool("ask", {"question": "   "})
            return out

    out = asyncio.run(asyncio.wait_for(session(), timeout=300))
    tools = out["tools"]
    assert set(tools) == {"search", "ask", "list_documents", "get_document"}
    assert "refused" in tools["ask"].description and "do not answer from memory" in tools["ask"].description
    assert tools["ask"].annotations.read_only_hint is True

    ask = out["ask"]
    assert not ask["refused"] and "190 miles" in ask["answer"] and "[1]" in ask["answer"]
    (c,) = ask["citations"]
    whole = out["whole"]
    assert whole["text"][c["start"]:c["end"]] == c["quote"] and "190 miles" in c["quote"]
    assert out["range"]["text"] == c["quote"] and out["range"]["next_start"] is None
    assert whole["chars"] == len(whole["text"]) == out["documents"]["documents"][0]["chars"]

    assert out["refused"]["refused"] is True and out["refused"]["citations"] == []
    passages = out["search"]["passages"]
    assert len(passages) == 3 and any("190 miles" in p["text"] for p in passages)
    assert all(whole["text"][p["start"]:p["end"]] == p["text"] for p in passages)
    assert out["missing"].is_error and "list_documents" in out["missing"].content[0].text
    assert out["empty"].is_error and "empty" in out["empty"].content[0].text


def test_without_an_index_the_server_exits_naming_the_fix(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "ui.cli", "mcp", "--index-dir", "nothing-here"], cwd=tmp_path,
                          env=env(), capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "seedrag index" in done.stderr and done.stdout == ""


@pytest.mark.parametrize("start, end, expected", [(0, 10, (0, 10, None)), (5, None, None)])
def test_get_document_reads_a_range_in_pieces(seed_rag: Any, start: int, end: int | None, expected: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import mcp_server

    monkeypatch.setattr(mcp_server, "MAX_DOCUMENT_CHARS", 1000)
    server = mcp_server.create_server(seed_rag)
    (source,) = seed_rag.documents()
    text = seed_rag.document(source).text

    async def call() -> dict[str, Any]:
        from mcp import Client

        async with Client(server) as client:
            return _data(await client.call_tool("get_document", {"id": source, "start": start, "end": end}))

    got = asyncio.run(call())
    if expected is not None:
        assert (got["start"], got["end"], got["next_start"]) == expected and got["text"] == text[:10]
    else:
        assert got["text"] == text[5:1005] and got["next_start"] == 1005
