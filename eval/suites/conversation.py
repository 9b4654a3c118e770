"""Conversations: a question, then a follow-up that leans on it ("and what did he say?"), scored on the follow-up.

`eval/questions/conversations.jsonl`: pairs of turns over the seed article, each turn with gold answers (or
unanswerable: the follow-up asks for something the article does not say). Each conversation is asked as the
chat asks it: the first turn alone, the follow-up with the first turn as history, carrying the first answer's
phrase (`rag.conversation.Turn`). The same follow-ups are also asked with the first question only as history
(how follow-ups were resolved before answers were carried), for comparison.
A turn is right when an answerable one is answered with a gold answer in the answer, and an unanswerable
one is refused. The answer mode (extractive, or an LLM) comes from `settings`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from eval.metrics import answer_contains, percentile
from eval.progress import steps
from eval.report import Report

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
QUICK = 6


@dataclass(frozen=True)
class Step:
    question: str
    answerable: bool
    answers: tuple[str, ...]


def load_conversations() -> list[tuple[str, list[Step]]]:
    text = (resources.files("eval") / "questions" / "conversations.jsonl").read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        if line.strip():
            r = json.loads(line)
            out.append((r["id"], [Step(t["question"], t["answerable"], tuple(t["answers"])) for t in r["turns"]]))
    return out


def right(answer: Any, step: Step) -> bool:
    if not step.answerable:
        return bool(answer.refused)
    return not answer.refused and bool(answer_contains(answer.text, step.answers))


def run(settings: Any, quick: bool = False, full: bool = False, limit: int | None = None,
        embedder: Any = None) -> Report:
    import tempfile

    from eval.scratch import scratch_index
    from rag.conversation import Turn
    from rag.generate.registry import from_settings

    conversations = load_conversations()
    if quick:
        conversations = conversations[:QUICK]
    if limit is not None:
        conversations = conversations[:limit]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, scratch_index(settings, "conversation", tmp) as scratch:
        rag, _ = scratch.build([SEEDS], embedder, generator=from_settings(scratch.settings))
        rag.warm_up()
        mode = rag.mode
        for cid, (first, follow) in steps([(c, t) for c, t in conversations], "conversations"):
            a1 = rag.ask(first.question)
            phrase = a1.highlight.text if a1.highlight is not None and not a1.refused else ""
            t = time.perf_counter()
            a2 = rag.ask(follow.question, history=[Turn(first.question, phrase)])
            seconds = time.perf_counter() - t
            plain = rag.ask(follow.question, history=[first.question])
            rows.append({
                "id": cid, "first_right": right(a1, first), "follow_up_right": right(a2, follow),
                "follow_up_right (question-only history)": right(plain, follow),
                "follow_up_answerable": follow.answerable, "phrase": phrase,
                "searched": a2.standalone_question or follow.question, "answer": a2.text, "ask_s": seconds,
            })
    n = len(rows)
    answerable = [r for r in rows if r["follow_up_answerable"]]
    summary = {
        "mode": mode,
        "conversations": n,
        "follow-ups answerable / unanswerable": f"{len(answerable)} / {n - len(answerable)}",
        "first_turn_accuracy": sum(r["first_right"] for r in rows) / max(1, n),
        "follow_up_accuracy": sum(r["follow_up_right"] for r in rows) / max(1, n),
        "follow_up_accuracy (answerable)": sum(r["follow_up_right"] for r in answerable) / max(1, len(answerable)),
        "follow_up_refused (unanswerable)": sum(r["follow_up_right"] for r in rows if not r["follow_up_answerable"])
        / max(1, n - len(answerable)),
        "follow_up_accuracy (question-only history, for comparison)":
            sum(r["follow_up_right (question-only history)"] for r in rows) / max(1, n),
        "follow_up ask_p50_ms": 1000 * percentile([r["ask_s"] for r in rows], 50),
    }
    return Report("conversation", summary, rows)
