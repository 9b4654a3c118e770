"""The command line on bad input: exit 2 with one line naming the problem and the fix, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(("env", "args", "says"), [
    ({"SEEDRAG_DENSE_WEIGHT": ""}, ["documents"], "SEEDRAG_DENSE_WEIGHT is empty. Give it a value (float)"),
    ({"SEEDRAG_INDEX_DIR": ""}, ["documents"], "SEEDRAG_INDEX_DIR is empty"),
    ({"SEEDRAG_K": "five"}, ["ask", "What is ATACMS?"], "SEEDRAG_K must be a whole number"),
    ({"SEEDRAG_DATA_DIR": "/nonexistent"}, ["eval", "squad", "--quick"],
     "benchmark data not found: /nonexistent/squad-v1.1-dev/dev-v1.1.json"),
    ({}, ["index", "/nonexistent/docs"], "/nonexistent/docs does not exist"),
    ({}, ["bench"], "Give documents to benchmark"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, env, args, says):
    run_env = {**os.environ, "SEEDRAG_INDEX_DIR": str(tmp_path / "index"), **env}
    done = subprocess.run([sys.executable, "-m", "ui.cli", *args], capture_output=True, text=True, env=run_env,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("seedrag: error: ") and says in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_index_exits_1_and_names_each_skipped_file_while_indexing_the_rest(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("The pier at Port Adle is 88 metres long.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    env = {**os.environ, "SEEDRAG_INDEX_DIR": str(tmp_path / "index")}
    done = subprocess.run([sys.executable, "-m", "ui.cli", "index", str(docs), "--json"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "seedrag: warning: skipped docs/broken.pdf: " in done.stderr
    assert '"added": 1' in done.stdout


def test_settings_shows_every_setting_by_section_where_it_came_from_and_hides_secrets(tmp_path):
    import json
    from dataclasses import fields

    from rag.settings import SECTIONS, Settings
    from tests.servers import seedrag

    done = seedrag("settings", "--json", "--llm", "openai", cwd=tmp_path, SEEDRAG_K="7",
                   SEEDRAG_API_TOKEN="s3cret-token")
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in json.loads(done.stdout)}
    assert set(rows) == {f.name for f in fields(Settings)}
    assert rows["k"] == {"section": "engine", "name": "k", "value": 7, "from": "env", "variable": "SEEDRAG_K"}
    assert rows["llm"]["value"] == "openai" and rows["llm"]["from"] == "flag" and rows["llm"]["section"] == "llm"
    assert rows["port"]["value"] == 7860 and rows["port"]["from"] == "default" and rows["port"]["section"] == "server"
    assert rows["api_token"]["value"] == "(set)" and "s3cret-token" not in done.stdout
    text = seedrag("settings", cwd=tmp_path, SEEDRAG_K="7").stdout
    assert [line for line in text.splitlines() if line.startswith("[")] == [f"[{s}]" for s in SECTIONS]
    assert "SEEDRAG_K" in text and " env " in text
    bad = seedrag("settings", cwd=tmp_path, SEEDRAG_PORT="http")
    assert bad.returncode == 2 and "SEEDRAG_PORT must be a whole number" in bad.stderr
