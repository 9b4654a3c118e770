"""`seedrag bench` on real files: both variants build, answer every question alternately, are served over
real HTTP to concurrent clients, and the report holds the numbers and the ratios."""

from __future__ import annotations

import json

from tests.documents import FERRY_LINES


def test_bench_compares_two_settings_on_a_folder_with_concurrent_clients(tmp_path, capsys):
    from ui.cli import main

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text("# Port Adle\n\n" + "\n".join(FERRY_LINES) + "\n")
    questions = tmp_path / "questions.txt"
    questions.write_text("When do the ferries leave?\nHow long is the pier?\nWhere are tickets sold?\n")
    out = tmp_path / "out"
    code = main(["bench", str(docs), "--questions", str(questions), "--compare", "reranker=none", "--clients", "2",
                 "--out", str(out), "--index-dir", str(tmp_path / "unused")])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    variants = report["tables"]["variants"]
    assert [v["variant"] for v in variants] == ["current", "reranker=none"]
    for v in variants:
        assert v["documents"] == 1 and v["chunks"] >= 1
        assert float(v["ask p50 ms"]) > 0 and float(v["retrieve p50 ms"]) > 0
        assert float(v["ingest chunks/s"]) > 0 and float(v["vs plain encode"]) > 0
        assert float(v["answers/s (HTTP)"]) > 0 and v["failed (HTTP)"] == 0 and v["busy (503) (HTTP)"] == 0
        assert float(v["health p50 / p99 ms (HTTP)"].split(" / ")[1]) > 0  # /health was probed during the crowd
    assert float(report["tables"]["ratios to the first"][0]["ask p50 ms ratio"]) > 0
    asked = [(r["variant"], r["question"]) for r in report["rows"]]
    assert asked[:2] == [("current", "When do the ferries leave?"), ("reranker=none", "When do the ferries leave?")]
    assert len(asked) == 6 and not any(r["refused"] for r in report["rows"] if r["variant"] == "current")
    assert "| variant |" in capsys.readouterr().out


def test_bench_names_a_bad_comparison_and_its_fix(tmp_path, capsys):
    from ui.cli import main

    assert main(["bench", str(tmp_path), "--compare", "rerankr=none"]) == 2
    assert "unknown setting 'rerankr'. Known: " in capsys.readouterr().err
    assert main(["bench", str(tmp_path), "--compare", "reranker"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err
    assert main(["bench"]) == 2
    assert "--dataset" in capsys.readouterr().err


def test_a_sustained_crowd_waits_as_told_on_503_and_nothing_fails(seed_rag, embedder):
    from eval.bench import concurrent_clients
    from rag.engine import RAG
    from rag.settings import Settings

    rag = RAG(seed_rag.store, embedder=embedder, settings=Settings(answer_workers=1, answer_queue=0))
    crowd = concurrent_clients(rag, ["What is the range of the ATACMS missile?", "Who is the president of Ukraine?"],
                               clients=4, duration=1.5, settle_s=0.1)
    assert crowd["seconds"] >= 1.5 and crowd["failed"] == 0
    assert crowd["busy (503)"] > 0 and crowd["answered"] > 2  # turned away at once, then answered after waiting
    assert "(0.1 s later)" in crowd["RSS before / after MB"]
