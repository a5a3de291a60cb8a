"""The server's Prometheus metrics (prometheus-client), on `GET /monitoring/prometheus/metrics`.

- `seq2seq_requests_total{code}`: answered requests by HTTP status.
- `seq2seq_request_seconds`: time from a request's arrival to its answer (histogram).
- `seq2seq_batch_sentences`: sentences per model call (histogram).
- `seq2seq_queued_sentences`: sentences waiting to start (gauge).

Each application has its own registry, so several servers in one process
(tests) do not share counts.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class ServerMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "seq2seq_requests", "Answered requests by HTTP status", ["code"], registry=self.registry
        )
        self.latency = Histogram(
            "seq2seq_request_seconds",
            "Seconds from a request's arrival to its answer",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.batches = Histogram(
            "seq2seq_batch_sentences",
            "Sentences per model call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self.queued = Gauge("seq2seq_queued_sentences", "Sentences waiting to start", registry=self.registry)

    def observe_request(self, status: int, seconds: float) -> None:
        self.requests.labels(code=str(status)).inc()
        self.latency.observe(seconds)

    def observe_batch(self, sentences: int, queued: int) -> None:
        if sentences:
            self.batches.observe(sentences)
        self.queued.set(queued)

    def exposition(self, queued: int) -> bytes:
        self.queued.set(queued)
        return generate_latest(self.registry)
