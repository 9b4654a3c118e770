"""Bounded answering: at most `workers` questions are answered at once and `queue` more wait; a question
beyond that is turned away at once (`Busy`: the REST API answers 503 with Retry-After) instead of joining an
unbounded pile whose every member gets slower.

Waiting costs no thread: a waiting request awaits an asyncio semaphore on the event loop, and only a running
one occupies a worker thread, so `/health`, the chat's static files and the other routes keep their threads
and answer at once under any crowd (measured: `seedrag bench --clients 50`, README).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator


class Busy(Exception):
    """Every answering slot is taken and the queue is full."""

    def __init__(self, workers: int, queue: int) -> None:
        super().__init__(f"The server is busy: {workers} questions are being answered and {queue} are waiting. "
                         "Retry in a moment (see Retry-After).")


def worker_count(setting: int) -> int:
    """How many questions are answered at once for the answer_workers setting (0: one per CPU core)."""
    return setting or os.cpu_count() or 1


class AnswerSlots:
    """Admission for answering, used on the event loop thread only (no locks needed)."""

    def __init__(self, workers: int = 0, queue: int = 32) -> None:
        self.workers = worker_count(workers)
        self.queue = queue
        self.admitted = 0  # running + waiting
        self._running: asyncio.Semaphore | None = None

    async def acquire(self) -> None:
        """Wait for a slot, or raise `Busy` at once when `workers + queue` are already admitted."""
        if self.admitted >= self.workers + self.queue:
            raise Busy(self.workers, self.queue)
        if self._running is None:
            self._running = asyncio.Semaphore(self.workers)
        self.admitted += 1
        try:
            await self._running.acquire()
        except BaseException:
            self.admitted -= 1
            raise

    def release(self) -> None:
        assert self._running is not None
        self._running.release()
        self.admitted -= 1


async def waiting(slots: AnswerSlots, give_up_s: float = 60.0, step_s: float = 1.0) -> AsyncIterator[str]:
    """Take a slot of `slots` for the chat, saying each `step_s` what the wait is: "busy, retrying" while the
    queue is full (tried again every `step_s`), "waiting" while queued. Ends once the slot is held (the caller
    releases it); raises `Busy` after `give_up_s`.

    Where the REST API turns a question away at once with 503 + Retry-After, a person in the chat sees why
    nothing happens yet, and the chat retries by itself."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    attempt: asyncio.Future[None] | None = None
    try:
        while True:
            if attempt is None:
                attempt = asyncio.ensure_future(slots.acquire())
            await asyncio.wait({attempt}, timeout=step_s)
            waited = loop.time() - started
            if attempt.done():
                if attempt.exception() is None:
                    attempt = None  # held: the caller's now
                    return
                if not isinstance(attempt.exception(), Busy):
                    raise attempt.exception()  # type: ignore[misc]
                attempt = None
                if waited >= give_up_s:
                    raise Busy(slots.workers, slots.queue)
                yield (f"The server is busy: {slots.workers} questions are being answered and {slots.queue} are "
                       f"waiting. Retrying… ({waited:.0f} s)")
                await asyncio.sleep(step_s)
                continue
            if waited >= give_up_s:
                raise Busy(slots.workers, slots.queue)
            yield f"Waiting for a free answering slot… ({waited:.0f} s)"
    finally:
        if attempt is not None:  # given up or closed while waiting: leave no slot taken
            attempt.cancel()
            try:
                await attempt
            except (asyncio.CancelledError, Busy):
                pass
            else:
                slots.release()
