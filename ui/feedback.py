"""Thumbs up/down: one JSON line per vote in <index dir>/feedback.jsonl."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()


def record(folder: str | Path, question: str, answer: dict[str, Any], liked: bool) -> Path:
    """Append a vote with the question, the answer text and its citations."""
    path = Path(folder) / "feedback.jsonl"
    row = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "liked": liked, "question": question,
           "answer": answer.get("answer"), "refused": answer.get("refused"),
           "citations": answer.get("citations", [])}
    with _LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
