"""Admission for answering: `workers` run, `queue` wait, the next is turned away at once; slots come back."""

from __future__ import annotations

import asyncio

import pytest

from ui.admission import AnswerSlots, Busy


def test_workers_run_the_queue_waits_and_the_rest_is_busy():
    async def scenario() -> list[str]:
        slots = AnswerSlots(workers=1, queue=1)
        events: list[str] = []
        gate = asyncio.Event()

        async def answer(name: str) -> None:
            try:
                await slots.acquire()
            except Busy as exc:
                events.append(f"{name} busy: {exc}")
                return
            try:
                events.append(f"{name} runs")
                await gate.wait()
            finally:
                slots.release()

        first = asyncio.create_task(answer("a"))
        second = asyncio.create_task(answer("b"))
        await asyncio.sleep(0)
        await answer("c")  # a runs, b waits: c is turned away
        assert slots.admitted == 2
        gate.set()
        await asyncio.gather(first, second)
        assert slots.admitted == 0
        await answer("d")  # the slots came back
        return events

    events = asyncio.run(scenario())
    assert events[:2] == ["a runs", events[1]] and events[1].startswith("c busy: The server is busy: 1 questions")
    assert events[2:] == ["b runs", "d runs"]


def test_zero_workers_means_one_per_core():
    import os

    assert AnswerSlots(0, 5).workers == (os.cpu_count() or 1)


def test_settings_refuse_negative_limits():
    from index.errors import ConfigError
    from rag.settings import Settings

    with pytest.raises(ConfigError, match="answer_workers and answer_queue"):
        Settings(answer_queue=-1)
