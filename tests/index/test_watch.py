"""index.watch: settled batches of document changes from real file writes in a temporary folder."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from index.watch import Change, changes, is_document


def _collect(folder: Path, actions, settle_ms: int = 200) -> list[list[Change]]:
    """The batches seen while `actions()` runs against `folder` (the watcher stops 1.5 s after it)."""
    stop = threading.Event()
    batches: list[list[Change]] = []

    def watch() -> None:
        for batch in changes([folder], stop=stop, settle_ms=settle_ms, max_ms=3000):
            batches.append(batch)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    time.sleep(0.5)  # the watcher is set up
    actions()
    time.sleep(1.5)
    stop.set()
    thread.join(timeout=10)
    return batches


def test_added_modified_and_deleted_documents_come_in_settled_batches(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "old.md").write_text("# Old\n\nIt was here before.\n")

    def actions() -> None:
        new = root / "sub" / "new.txt"
        new.parent.mkdir()
        with new.open("w") as out:  # written in pieces: one batch once it stands still
            for i in range(5):
                out.write(f"line {i}\n")
                out.flush()
                time.sleep(0.05)
        (root / "old.md").write_text("# Old\n\nIt changed.\n")
        (root / ".hidden.md").write_text("not a document the index reads")
        (root / ".upload-x.md").write_text("a staging file")
        (root / "image.png").write_bytes(b"\x89PNG")
        time.sleep(0.6)
        (root / "old.md").unlink()

    batches = _collect(root, actions)
    assert len(batches) == 2, batches
    first, second = batches
    assert first == [Change("modified", root / "old.md"), Change("added", root / "sub" / "new.txt")]
    assert second == [Change("deleted", root / "old.md")]


def test_only_what_the_build_reads_is_a_document(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    assert is_document(root / "a.md", [root]) and is_document(root / "deep" / "b.PDF", [root])
    assert not is_document(root / ".git" / "c.md", [root]) and not is_document(root / ".c.md", [root])
    assert not is_document(root / "d.png", [root]) and not is_document(Path("/elsewhere/e.md"), [root])
    assert is_document(root / "f.txt", [root / "f.txt"])  # a watched file
