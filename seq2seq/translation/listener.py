"""How `seq2seq serve` listens: uvicorn, with stalled connections closed and a bounded graceful stop.

uvicorn closes a kept-alive connection that stays idle after an answer
(`timeout_keep_alive`), but not one that never finishes its request
headers, or that sends part of the next request's headers and stops: such
connections stay open for ever, and each holds a slot. :func:`guarded_h11`
gives uvicorn's h11 protocol one more timer: a connection that has not sent
a complete request head within `header_timeout` seconds of connecting, or
of starting its next request, is closed. The body is the application's to
time (:func:`seq2seq.translation.server.read_body`).

On SIGTERM or Ctrl-C uvicorn stops accepting, lets requests in flight
finish for up to `grace_seconds` (`timeout_graceful_shutdown`), then cancels
what is left and the process exits, stalled clients or not.
"""

from __future__ import annotations

import logging
import sys

from uvicorn.protocols.http.h11_impl import H11Protocol


def guarded_h11(header_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing connections whose request head does not arrive in time."""

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self.head_timer = None
            self.arm_head_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self.arm_head_timer()  # the next request's head must arrive in time too

        def connection_lost(self, exc) -> None:
            self.disarm_head_timer()
            super().connection_lost(exc)

        def between_requests(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def arm_head_timer(self) -> None:
            self.disarm_head_timer()
            self.head_timer = self.loop.call_later(header_timeout, self.head_timed_out, self.cycle)

        def disarm_head_timer(self) -> None:
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None

        def head_timed_out(self, cycle) -> None:
            self.head_timer = None
            if self.cycle is cycle and self.between_requests():  # no new request head since the timer started
                self.transport.close()

    return GuardedH11Protocol


def serve_forever(app, host: str, port: int, header_timeout: float, grace_seconds: float) -> None:
    """Runs `app` on `host:port` until SIGTERM or Ctrl-C (then as the module doc says); logs requests to stderr."""
    import uvicorn

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log = logging.getLogger("seq2seq.serve")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_h11(header_timeout),
        timeout_keep_alive=max(1, round(header_timeout)),
        timeout_graceful_shutdown=grace_seconds,  # type: ignore[arg-type]  -- asyncio.timeout takes a float
        log_level="warning",
    )
    try:
        uvicorn.Server(config).run()
    finally:
        log.removeHandler(handler)
