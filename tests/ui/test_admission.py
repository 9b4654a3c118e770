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


def test_the_chat_waits_saying_busy_retrying_then_gets_a_slot():
    from ui.admission import waiting

    async def scenario() -> tuple[list[str], list[str], int]:
        slots = AnswerSlots(workers=1, queue=0)
        await slots.acquire()  # every slot taken, no queue: a question is turned away at once
        said: list[str] = []

        async def free_later() -> None:
            await asyncio.sleep(0.25)
            slots.release()

        releasing = asyncio.create_task(free_later())
        async for text in waiting(slots, give_up_s=5, step_s=0.1):
            said.append(text)
        await releasing
        held = slots.admitted  # the chat holds the slot now
        slots.release()
        # queued behind a running answer: "waiting", and giving up leaves nothing taken
        queued = AnswerSlots(workers=1, queue=1)
        await queued.acquire()
        gave_up: list[str] = []
        with pytest.raises(Busy):
            async for text in waiting(queued, give_up_s=0.3, step_s=0.1):
                gave_up.append(text)
        assert queued.admitted == 1
        return said, gave_up, held

    said, gave_up, held = asyncio.run(scenario())
    assert said and all(t.startswith("The server is busy") and "Retrying" in t for t in said)
    assert held == 1
    assert gave_up and all(t.startswith("Waiting for a free answering slot") for t in gave_up)
