import json
from pathlib import Path

import pytest

from index.build import build_index
from index.errors import IndexMismatchError, StoreError
from index.manifest import FORMAT
from index.stores.faiss import FaissStore
from tests.pdfs import make_pdf


def _build(tmp_path, embedder, **kw):
    return build_index([tmp_path / "docs"], FaissStore(tmp_path / "index"), embedder, root=tmp_path, **kw)


def _write(tmp_path, name, text):
    path = tmp_path / "docs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_incremental_add_change_delete(tmp_path, embedder):
    _write(tmp_path, "a.txt", "ATACMS has a range of 190 miles.")
    _write(tmp_path, "b.md", "# Kursk\nUkraine launched an incursion into Kursk in August.")
    first = _build(tmp_path, embedder)
    assert first.counts() == {"added": 2, "updated": 0, "removed": 0, "unchanged": 0, "chunks": 2}

    again = _build(tmp_path, embedder)
    assert again.counts() == {"added": 0, "updated": 0, "removed": 0, "unchanged": 2, "chunks": 2}
    assert again.embedded == 0

    _write(tmp_path, "a.txt", "ATACMS has a range of 300 kilometers.")
    (tmp_path / "docs" / "b.md").unlink()
    _write(tmp_path, "sub/c.html", "<p>North Korean troops arrived in Russia.</p>")
    third = _build(tmp_path, embedder)
    assert third.counts() == {"added": 1, "updated": 1, "removed": 1, "unchanged": 0, "chunks": 2}
    assert third.embedded == 2

    store = FaissStore(tmp_path / "index", create=False)
    assert store.sources() == ["docs/a.txt", "docs/sub/c.html"]
    assert "300 kilometers" in store.document("docs/a.txt").text
    assert all("Kursk" not in c.text for c, _ in store.search_lexical("Kursk incursion", 10))


def test_corrupt_and_binary_files_are_skipped_and_the_index_stays_intact(tmp_path, embedder):
    _write(tmp_path, "good.txt", "The Kremlin warned of escalation.")
    _build(tmp_path, embedder)
    (tmp_path / "docs" / "broken.pdf").write_bytes(b"%PDF-1.7 garbage")
    (tmp_path / "docs" / "blob.txt").write_bytes(b"\x00\xff\x00\x13" * 100)
    (tmp_path / "docs" / "fine.pdf").write_bytes(make_pdf(["Storm Shadow is a British missile."]))
    report = _build(tmp_path, embedder)
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {"docs/broken.pdf", "docs/blob.txt"}
    assert "corrupt" in reasons["docs/broken.pdf"] and "binary" in reasons["docs/blob.txt"]
    assert report.counts() == {"added": 1, "updated": 0, "removed": 0, "unchanged": 1, "chunks": 2}
    store = FaissStore(tmp_path / "index", create=False)
    assert store.sources() == ["docs/fine.pdf", "docs/good.txt"]


def test_a_file_that_becomes_unreadable_keeps_its_previous_version(tmp_path, embedder):
    _write(tmp_path, "a.txt", "ATACMS has a range of 190 miles.")
    _build(tmp_path, embedder)
    (tmp_path / "docs" / "a.txt").write_bytes(b"\x00\x00garbage")
    report = _build(tmp_path, embedder)
    assert [s.path for s in report.skipped] == ["docs/a.txt"]
    assert "190 miles" in FaissStore(tmp_path / "index").document("docs/a.txt").text


def test_an_index_built_with_another_model_is_refused(tmp_path, embedder):
    _write(tmp_path, "a.txt", "Some text.")
    _build(tmp_path, embedder)
    folder = tmp_path / "index"
    gen = (folder / "CURRENT").read_text()
    manifest = json.loads((folder / gen / "manifest.json").read_text())
    manifest["embedding_model"] = "all-mpnet-base-v2"
    (folder / gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="seedrag index --rebuild"):
        _build(tmp_path, embedder)
    from rag.engine import RAG

    with pytest.raises(IndexMismatchError, match="all-mpnet-base-v2"):
        RAG(FaissStore(folder), embedder=embedder)
    manifest["format"] = "seedrag-index/0"
    (folder / gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=FORMAT):
        FaissStore(folder)
    # --rebuild recovers: a fresh store ignores the old index until the new one is written
    report = build_index([tmp_path / "docs"], FaissStore(folder, fresh=True), embedder, root=tmp_path, rebuild=True)
    assert report.chunks == 1


def test_changed_chunk_settings_require_a_rebuild(tmp_path, embedder):
    _write(tmp_path, "a.txt", "Some text.")
    _build(tmp_path, embedder)
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        _build(tmp_path, embedder, chunk_tokens=120)


def test_an_interrupted_build_leaves_the_previous_index_loadable(tmp_path, embedder, monkeypatch):
    _write(tmp_path, "a.txt", "ATACMS has a range of 190 miles.")
    _build(tmp_path, embedder)
    _write(tmp_path, "b.txt", "A second document about Kursk.")

    class Boom(Exception):
        pass

    def crash(*args, **kwargs):
        raise Boom("killed half-way through embedding")

    monkeypatch.setattr(embedder, "embed_documents", crash)
    monkeypatch.setattr(embedder, "embed_documents_and_spans", crash)  # the build's path: chunks and sentences
    with pytest.raises(Boom):
        _build(tmp_path, embedder)
    monkeypatch.undo()
    store = FaissStore(tmp_path / "index", create=False)
    assert store.sources() == ["docs/a.txt"]

    import faiss

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", disk_full)
    with pytest.raises(StoreError, match="previous index is intact"):
        _build(tmp_path, embedder)
    monkeypatch.undo()
    reopened = FaissStore(tmp_path / "index", create=False)
    assert reopened.sources() == ["docs/a.txt"] and reopened.chunk_count() == 1
    assert not list((tmp_path / "index").glob(".gen-*"))  # no staging leftovers


def test_an_index_from_before_sentence_vectors_answers_and_is_upgraded_by_the_next_build(tmp_path, embedder,
                                                                                          monkeypatch):
    from rag.engine import RAG
    from tests.documents import FERRY_LINES

    _write(tmp_path, "notes.md", "# Port Adle\n\n" + "\n".join(FERRY_LINES) + "\n")
    _build(tmp_path, embedder)
    question = "When do the ferries leave?"
    expected = RAG(FaissStore(tmp_path / "index"), embedder=embedder).ask(question)
    generation = tmp_path / "index" / (tmp_path / "index" / "CURRENT").read_text().strip()
    (generation / "sentences.npy").unlink()  # what seedrag wrote before it stored sentence vectors
    rows = [json.loads(line) for line in (generation / "chunks.jsonl").read_text().splitlines()]
    (generation / "chunks.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k != "sentences"})
                                                     + "\n" for r in rows))
    manifest = json.loads((generation / "manifest.json").read_text())
    del manifest["sentence_vectors"]
    (generation / "manifest.json").write_text(json.dumps(manifest))

    embedded: list[str] = []
    real = embedder.embed_documents
    monkeypatch.setattr(embedder, "embed_documents", lambda texts: embedded.extend(texts) or real(texts))
    old = RAG(FaissStore(tmp_path / "index"), embedder=embedder)
    assert old.store.sentence_vectors([r["id"] for r in rows]) == {}
    answer = old.ask(question)
    assert (answer.text, answer.confidence) == (expected.text, pytest.approx(expected.confidence, abs=1e-4))
    assert embedded  # the sentences were embedded at question time

    report = _build(tmp_path, embedder)  # nothing changed on disk, yet every file is embedded again, once
    assert report.updated == 1 and report.unchanged == 0
    embedded.clear()
    upgraded = RAG(FaissStore(tmp_path / "index"), embedder=embedder)
    assert upgraded.ask(question).text == expected.text
    assert embedded == []
    assert _build(tmp_path, embedder).unchanged == 1


def test_building_and_searching_leave_the_embedding_model_all_cores(tmp_path):
    """FAISS's OpenMP setting is shared with torch: one thread for a search must not become one thread for
    every later embedding (it did: ingest and queries ran on one core). A fresh process, so that no earlier
    test has changed the count."""
    import subprocess
    import sys

    _write(tmp_path, "a.txt", "ATACMS has a range of 190 miles. It was first used in 1991.")
    script = (
        "import sys, torch\n"
        "from rag.engine import RAG\n"
        "before = torch.get_num_threads()\n"
        "rag = RAG.build([sys.argv[1]], sys.argv[2])\n"
        "assert rag.retrieve('ATACMS range') and not rag.ask('How far can ATACMS fly?').refused\n"
        "print(before, torch.get_num_threads())\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "docs"), str(tmp_path / "index")],
                          capture_output=True, text=True, timeout=300, check=True)
    before, after = done.stdout.split()[-2:]
    assert after == before


def test_a_file_over_the_size_limit_is_skipped_at_once_and_its_indexed_version_kept(make_rag, tmp_path):
    import glob
    from pathlib import Path

    readmes = [Path(p).read_text(errors="ignore") for p in sorted(glob.glob(  # installed packages' READMEs
        str(Path(pytest.__file__).parents[1] / "*.dist-info" / "METADATA")))[:40]]
    real = "\n\n".join(readmes)
    assert len(real) > 100_000
    docs = tmp_path / "docs"
    (docs / "big.md").write_text("ATACMS has a range of 190 miles.\n")
    (docs / "small.txt").write_text("The pier is 88 metres long.\n")
    rag = make_rag(max_file_mb=1)
    assert rag.index([docs]).added == 2
    (docs / "big.md").write_text((real * (2 * 2**20 // max(len(real), 1) + 1))[: 2 * 2**20 + 10])  # now 2 MB
    report = rag.index([docs])
    assert [(s.path, s.reason) for s in report.skipped] == [
        (rag.documents()[0], "the file is 2.0 MB, over the limit of 1 MB: raise SEEDRAG_MAX_FILE_MB to index it")]
    assert report.unchanged == 1 and report.embedded == 0
    assert "190 miles" in rag.document(rag.documents()[0]).text  # the version indexed before is kept
    assert not rag.ask("How long is the pier?").refused


def test_a_symlink_is_named_where_it_is_and_pruned_with_it_and_broken_ones_are_named(tmp_path, embedder):
    outside = tmp_path / "elsewhere" / "ferry.txt"
    outside.parent.mkdir()
    outside.write_text("The ferry to Port Adle leaves at seven.")
    _write(tmp_path, "own.txt", "The pier is 88 metres long.")
    link = tmp_path / "docs" / "ferry.txt"
    link.symlink_to(outside)
    (tmp_path / "docs" / "gone.txt").symlink_to(tmp_path / "docs" / "missing.txt")
    (tmp_path / "docs" / "a.md").symlink_to(tmp_path / "docs" / "b.md")
    (tmp_path / "docs" / "b.md").symlink_to(tmp_path / "docs" / "a.md")
    report = _build(tmp_path, embedder)
    store = FaissStore(tmp_path / "index", create=False)
    assert store.sources() == ["docs/ferry.txt", "docs/own.txt"]  # not the target's absolute path
    assert sorted(s.path.rsplit("/", 1)[-1] for s in report.skipped) == ["a.md", "b.md", "gone.txt"]
    assert all("symbolic link that leads to no file" in s.reason for s in report.skipped)
    link.unlink()
    again = build_index([tmp_path / "docs"], store, embedder, root=tmp_path)
    assert again.removed == 1 and store.sources() == ["docs/own.txt"]


def test_an_absolute_folder_outside_the_root_keeps_its_links_by_their_own_path(tmp_path, embedder):
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("The ferry to Port Adle leaves at seven.")
    _write(tmp_path, "own.txt", "The pier is 88 metres long.")
    (tmp_path / "docs" / "ferry.txt").symlink_to(outside)
    store = FaissStore(tmp_path / "index")
    build_index([tmp_path / "docs"], store, embedder, root=tmp_path / "unrelated")
    assert store.sources() == [str(tmp_path / "docs" / "ferry.txt"), str(tmp_path / "docs" / "own.txt")]


def test_a_staging_folder_left_by_a_killed_build_is_gone_after_a_no_op_build(tmp_path, embedder):
    import fcntl

    _write(tmp_path, "a.txt", "ATACMS has a range of 190 miles.")
    _build(tmp_path, embedder)
    left = tmp_path / "index" / ".gen-000099.tmp"  # what kill -9 during a write leaves
    left.mkdir()
    (left / "vectors.faiss").write_bytes(b"\0" * 1000)
    with open(tmp_path / "index" / ".lock", "w") as busy:  # while another process writes, it is its own: kept
        fcntl.flock(busy, fcntl.LOCK_EX)
        FaissStore(tmp_path / "index")
        assert left.exists()
    report = _build(tmp_path, embedder)
    assert report.counts()["unchanged"] == 1 and report.embedded == 0
    assert not left.exists()
    assert FaissStore(tmp_path / "index", create=False).sources() == ["docs/a.txt"]


def test_chunking_beside_embedding_gives_the_serial_result_and_an_honest_progress(tmp_path, embedder):
    """Documents are chunked in a thread while earlier chunks are embedded: the chunks and vectors are those of
    chunking each document and embedding its chunks, `done` only grows, and `total` is reached only at the end."""
    import numpy as np

    from index.build import _embed
    from index.chunking import chunk_document
    from index.documents import load_document
    from index.embedding import embed_with_spans
    from index.sentences import clip, split_sentences

    texts = _real_texts()
    docs = []
    for i, text in enumerate(texts):
        path = tmp_path / f"doc{i}.md"
        path.write_text(text)
        docs.append((load_document(path, path.name), True))
    calls: list[tuple[int, int]] = []
    out = _embed(docs, embedder, 60, 10, lambda done, total: calls.append((done, total)))  # small: many batches
    for (doc, _), stored in zip(docs, out, strict=True):
        split = split_sentences(doc.text)
        chunks = chunk_document(doc, 60, 10, embedder.fits, split)
        assert [c.text for c in stored.chunks] == [c.text for c in chunks]
        spans = [[(a - c.start, b - c.start) for a, b in clip(split, doc.text, c.start, c.end)] for c in chunks]
        vectors, _ = embed_with_spans(embedder, [c.text for c in chunks], spans)
        np.testing.assert_allclose(stored.vectors, vectors, atol=1e-6)
    n = sum(len(s.chunks) for s in out)
    assert calls[-1] == (n, n) and len(calls) > 1
    assert all(a[0] < b[0] for a, b in zip(calls, calls[1:], strict=False))
    assert all(done < total for done, total in calls[:-1])  # never "finished" before the end


def test_a_chunking_failure_is_raised_in_the_caller_and_leaves_no_thread(tmp_path, embedder):
    import threading

    from index.build import _embed
    from index.documents import load_document

    path = tmp_path / "a.md"
    path.write_text(_real_texts()[0])
    doc = load_document(path, path.name)

    class Broken:
        dimension = embedder.dimension

        def fits(self, text: str) -> bool:
            raise RuntimeError("the tokenizer broke")

    with pytest.raises(RuntimeError, match="the tokenizer broke"):
        _embed([(doc, True)] * 3, Broken(), 200, 40, None)  # type: ignore[arg-type]
    assert not any(t.name == "seedrag-chunker" for t in threading.enumerate())


def _real_texts() -> list[str]:
    """Real hard-wrapped Markdown: sections of an installed package's changelog (gradio_client's)."""
    import gradio_client

    changelog = Path(gradio_client.__file__).with_name("CHANGELOG.md").read_text()
    return ["## " + s for s in changelog.split("\n## ") if len(s) > 800][:24]
