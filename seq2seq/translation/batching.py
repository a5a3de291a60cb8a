"""The server's work queue: concurrent requests batched together, bounded, fair, with deadlines.

Each request's sentences are cut into pieces of `piece_sentences`; a batch
takes at most one piece from each waiting request, in turn (round robin),
up to `max_batch` sentences, so a long request shares the model with the
short ones that arrive after it: they wait for one piece of it, not for
all of it.
One thread runs the model, so batches never compete for the CPU.

- **Bounded.** At most `max_queue` sentences wait (not yet started); a
  request that would pass that is refused at once (:class:`Overloaded`, 503).
- **Deadlines.** A piece not started by its request's deadline, or that
  would not finish by it (at the measured seconds per sentence), is not
  computed: the request fails with :class:`DeadlineExceeded` (504). The
  server also stops waiting at the deadline (a piece that runs longer than
  estimated is answered 504 too; its result is dropped).
- **Abandoned requests** (the awaiting task cancelled, as the server does
  when a client disconnects) are dropped before their next piece is computed.
- **Isolation.** When a batch fails, each of its pieces is retried alone, so
  only the request whose piece still fails gets the error.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("seq2seq.serve")


@dataclasses.dataclass
class Limits:
    """What the server accepts and how it batches (see the README's Serving section for each default)."""

    max_sentences: int = 64  # per request; more answer 413
    max_chars: int = 2000  # per sentence; more answer 413
    max_batch: int = 64  # sentences translated together
    window_ms: float = 5.0  # how long the first waiting request waits for company
    max_queue: int = 256  # sentences waiting to start; a request that would pass it answers 503
    timeout: float = 30.0  # seconds from arrival to answer; work that cannot make it answers 504
    piece_sentences: int = 8  # a request's sentences go into batches this many at a time
    max_body: int = 1 << 20  # bytes
    body_timeout: float = 10.0  # seconds to receive a request's body


class Overloaded(Exception):
    """The queue is full; `retry_after` is the estimated seconds until it has room."""

    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy; retry in {retry_after} s")
        self.retry_after = retry_after


class DeadlineExceeded(Exception):
    """The request's work could not be done before its deadline."""


@dataclasses.dataclass(eq=False)
class Job:
    pieces: collections.deque  # (start, lines) not yet computed
    future: asyncio.Future
    deadline: float  # time.monotonic()
    results: list
    waiting: int  # sentences not yet started


class Batcher:
    """Batches the sentences of concurrent requests for `translate` (lines -> one result dict each)."""

    def __init__(self, translate: Callable[[list[str]], list[dict]], limits: Limits, observe=None):
        self.translate = translate
        self.limits = limits
        self.observe = observe or (lambda batch_sentences, queued: None)
        self.jobs: collections.deque[Job] = collections.deque()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="translate")
        self.wake: asyncio.Event | None = None
        self.worker: asyncio.Task | None = None
        self.seconds_per_sentence = 0.0  # measured, a running average
        self.in_flight: list = []  # the batch being computed

    @property
    def queued(self) -> int:
        """Sentences waiting to start (of requests still waiting for their answer)."""
        return sum(job.waiting for job in self.jobs if not job.future.done())

    async def submit(self, lines: list[str], deadline: float) -> list[dict]:
        """The results for `lines`, in order; raises :class:`Overloaded` or :class:`DeadlineExceeded`."""
        if self.wake is None:
            self.wake = asyncio.Event()
            self.worker = asyncio.get_running_loop().create_task(self._work())
        queued = self.queued
        if queued + len(lines) > self.limits.max_queue:
            raise Overloaded(max(1, math.ceil((queued + len(lines)) * self.seconds_per_sentence)))
        size = self.limits.piece_sentences
        pieces = collections.deque((start, lines[start : start + size]) for start in range(0, len(lines), size))
        job = Job(pieces, asyncio.get_running_loop().create_future(), deadline, [None] * len(lines), len(lines))
        self.jobs.append(job)
        self.observe(0, self.queued)
        self.wake.set()
        return await job.future

    def _next_batch(self) -> list[tuple[Job, int, list[str]]]:
        """Pieces for one batch, one per job in turn; drops abandoned jobs and fails late ones."""
        batch, size, now = [], 0, time.monotonic()
        while self.jobs and size < self.limits.max_batch:
            job = self.jobs.popleft()
            if job.future.done():  # abandoned (cancelled) or already failed
                continue
            start, lines = job.pieces[0]
            if now + (size + len(lines)) * self.seconds_per_sentence > job.deadline:
                job.future.set_exception(DeadlineExceeded("the request's deadline passed before its work could run"))
                continue
            if any(job is taken for taken, _, _ in batch) or (batch and size + len(lines) > self.limits.max_batch):
                self.jobs.appendleft(job)  # one piece per request and batch: the next batch starts with it
                break
            job.pieces.popleft()
            job.waiting -= len(lines)
            batch.append((job, start, lines))
            size += len(lines)
            if job.pieces:
                self.jobs.append(job)  # its next piece waits for its turn
        return batch

    async def _work(self) -> None:
        while True:
            try:
                await self._work_once()
            except Exception:  # noqa: BLE001 -- a fault of the batcher itself: fail what waits, keep serving
                log.exception("the batcher failed; failing the requests it held")
                for job in [*self.jobs, *(job for job, _, _ in self.in_flight)]:
                    if not job.future.done():
                        job.future.set_exception(TranslationFailed())
                self.jobs.clear()
                self.in_flight = []

    async def _work_once(self) -> None:
        """Waits for work if there is none, then computes one batch and hands out its results."""
        if not self.jobs:
            self.wake.clear()
            await self.wake.wait()
        if self.queued < self.limits.max_batch:  # company for the first waiting request, then a fuller batch
            await asyncio.sleep(self.limits.window_ms / 1000)
        batch = self._next_batch()
        self.observe(sum(len(lines) for _, _, lines in batch), self.queued)
        if not batch:
            return
        started = time.monotonic()
        self.in_flight = batch
        outcomes = await asyncio.get_running_loop().run_in_executor(self.executor, self._translate_isolated, batch)
        self.in_flight = []
        measured = (time.monotonic() - started) / sum(len(lines) for _, _, lines in batch)
        self.seconds_per_sentence = (
            measured if not self.seconds_per_sentence else 0.8 * self.seconds_per_sentence + 0.2 * measured
        )
        for (job, start, lines), outcome in zip(batch, outcomes):
            if job.future.done():
                continue
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
                continue
            job.results[start : start + len(lines)] = outcome
            if not job.pieces and not job.waiting:
                job.future.set_result(job.results)

    def _translate_isolated(self, batch) -> list:
        """Each piece's results, or the exception its piece raised when translated alone (in the model thread)."""
        lines = [line for _, _, piece in batch for line in piece]
        try:
            results = self.translate(lines)
        except Exception:  # noqa: BLE001 -- retried piece by piece below, so that only the guilty request fails
            if len(batch) == 1:
                log.exception("translation failed for %d sentences", len(lines))
                return [TranslationFailed()]
            return [self._translate_isolated([piece])[0] for piece in batch]
        outcomes, start = [], 0
        for _, _, piece in batch:
            outcomes.append(results[start : start + len(piece)])
            start += len(piece)
        return outcomes


class TranslationFailed(Exception):
    """The model failed on a request's sentences (logged with its cause); answered 500."""

    def __init__(self):
        super().__init__("translation failed (the server log has the cause)")
