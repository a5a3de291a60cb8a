"""`seq2seq serve`: TensorFlow Serving's REST predict protocol for a translation model (Starlette on uvicorn).

Routes, `NAME` being `--name` (default: the model folder's name):

- `GET /v1/models/NAME`: the model's status, as TensorFlow Serving answers it
  (`AVAILABLE`: the server listens only once the model is loaded and warm).
- `GET /v1/models/NAME/metadata`: the `serving_default` signature, as
  TensorFlow Serving describes it.
- `POST /v1/models/NAME:predict`: the row format `{"instances": ["text", ...]}`
  (or instances `{"inputs": "text"}`) answers `{"predictions": [{"translations",
  "scores", "nbest", "nbest_scores"}, ...]}`, one per instance in order; the
  columnar format `{"inputs": ["text", ...]}` (or `{"inputs": {"inputs": [...]}}`)
  answers `{"outputs": {"translations": [...], "scores": [...], ...}}`. The
  names are the outputs of the exported SavedModel's `serving_default`
  (:mod:`seq2seq.translation.export`), so a client can move to TensorFlow
  Serving unchanged.
- `GET /monitoring/prometheus/metrics`: Prometheus metrics (TensorFlow
  Serving's path): requests by status, queued sentences, batch sizes, latency.

A request may also ask for a glossary, markup or alignments (top-level
keys `glossary`, `markup`, `alignments`; see
:mod:`seq2seq.translation.request_options`).

Errors answer `{"error": "..."}` for that request alone: 400 malformed (not
JSON, nested too deeply, not a list of strings, an instance that is not
text: a lone surrogate or a control character other than tab, CR and LF,
named by its index), 404 another model name, 405 a wrong method, 408 a body
not received within `body_timeout`, 413 too many sentences, too long a
sentence or too large a body (checked while the body streams in, chunked or
not; a too large body is dropped as it arrives, never kept), 503 with
`Retry-After` when `max_queue` sentences already wait, 504
when the work could not be done before the request's deadline (`timeout`,
or the client's shorter `X-Request-Timeout` header in seconds), 500 when
the model fails on a request's own sentences (logged with the cause). See
:mod:`seq2seq.translation.batching` for batching, fairness and deadlines.
Each request is logged on one line (method, path, status, sentences,
seconds) to the `seq2seq.serve` logger.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import unicodedata
from collections.abc import Callable

from seq2seq.translation.batching import Batcher, DeadlineExceeded, Limits, Overloaded, TranslationFailed
from seq2seq.translation.request_options import OUTPUTS, OptionError, translator_function, with_options

__all__ = ["Limits", "make_app", "parse_request", "translator_function"]

log = logging.getLogger("seq2seq.serve")


class RequestError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def check_text(index: int, text: str) -> None:
    """Raises a 400 for an instance that is not text the tokenizer can take."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(400, f"instance {index} is not valid Unicode text (a lone surrogate)") from None
    for character in text:
        if character not in "\t\r\n" and unicodedata.category(character) == "Cc":
            raise RequestError(400, f"instance {index} holds the control character U+{ord(character):04X}")


def parse_request(body: bytes, limits: Limits) -> tuple[list[str], bool]:
    """The sentences of a predict request, and whether it used the row format."""
    if len(body) > limits.max_body:
        raise RequestError(413, f"the request body is over {limits.max_body} bytes")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(400, f"the body is not JSON ({error})") from None
    except RecursionError:
        raise RequestError(400, "the body is nested too deeply") from None
    if not isinstance(document, dict) or ("instances" in document) == ("inputs" in document):
        raise RequestError(400, 'the body must be a JSON object with either "instances" or "inputs"')
    signature = document.get("signature_name", "serving_default")
    if signature != "serving_default":
        raise RequestError(400, f"unknown signature_name {signature!r}; this server has serving_default")
    rows = "instances" in document
    items = document["instances"] if rows else document["inputs"]
    if isinstance(items, dict) and set(items) == {"inputs"}:
        items = items["inputs"]
    if rows and isinstance(items, list):
        items = [item["inputs"] if isinstance(item, dict) and set(item) == {"inputs"} else item for item in items]
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise RequestError(400, "the inputs must be a list of strings (one sentence each)")
    if len(items) > limits.max_sentences:
        raise RequestError(413, f"{len(items)} sentences in one request; at most {limits.max_sentences}")
    for index, item in enumerate(items):
        if len(item) > limits.max_chars:
            raise RequestError(413, f"sentence {index} has {len(item)} characters; at most {limits.max_chars}")
        check_text(index, item)
    try:
        return with_options(document, items, limits.max_chars), rows
    except OptionError as error:
        raise RequestError(400, str(error)) from None


DRAINED = 16  # a refused body up to this many times max_body is read and dropped before the 413 (see read_body)


async def read_body(request, limits: Limits) -> bytes:
    """The body, refused (413) as soon as it passes `max_body` bytes, and (408) when it takes too long.

    A refused body is not kept: what of it is already on its way (up to
    DRAINED x `max_body` bytes, while chunks keep arriving within a second)
    is read and dropped before the answer, because closing a connection with
    unread data makes the system reset it, and the client would lose the 413.
    A body declared larger than that is refused without reading it.
    """
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise RequestError(400, f"Content-Length {declared!r} is not a number")
    too_large = RequestError(413, f"the request body is over {limits.max_body} bytes")
    if declared is not None and int(declared) > DRAINED * limits.max_body:
        raise too_large
    chunks, size = [], 0
    deadline = time.monotonic() + limits.body_timeout
    stream = request.stream().__aiter__()
    while True:
        wait = max(0.0, deadline - time.monotonic())
        if size > limits.max_body:
            wait = min(wait, 1.0)  # draining: only what keeps coming
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), wait)
        except StopAsyncIteration:
            if size > limits.max_body:
                raise too_large from None
            return b"".join(chunks)
        except asyncio.TimeoutError:
            if size > limits.max_body:
                raise too_large from None
            raise RequestError(408, f"the body did not arrive within {limits.body_timeout:g} s") from None
        size += len(chunk)
        if size > DRAINED * limits.max_body:
            raise too_large
        if size > limits.max_body:
            chunks = []  # refused: dropped as it arrives
            continue
        chunks.append(chunk)


def request_deadline(request, limits: Limits, arrived: float) -> float:
    """`arrived` plus the server's timeout, or the client's shorter `X-Request-Timeout`."""
    timeout = limits.timeout
    asked = request.headers.get("x-request-timeout")
    if asked is not None:
        try:
            timeout = min(timeout, float(asked))
        except ValueError:
            raise RequestError(400, f"X-Request-Timeout {asked!r} is not a number of seconds") from None
        if not timeout > 0:
            raise RequestError(400, f"X-Request-Timeout {asked!r} must be above 0")
    return arrived + timeout


def make_app(translate: Callable[[list[str]], list[dict]], name: str, limits: Limits | None = None):
    """The ASGI application (see the module doc); `translate` maps sentences to output dicts."""
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from seq2seq.translation.metrics import ServerMetrics

    limits = limits or Limits()
    metrics = ServerMetrics()
    batcher = Batcher(translate, limits, observe=metrics.observe_batch)

    def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
        if status in (408, 413):  # the body may be unread: this connection is not reused
            headers = {**(headers or {}), "Connection": "close"}
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    def logged(handler):
        async def route(request):
            started = time.monotonic()
            request.state.sentences = 0
            response = await handler(request)
            seconds = time.monotonic() - started
            log.info(
                "%s %s %d %d sentences %.3fs",
                request.method,
                request.url.path,
                response.status_code,
                request.state.sentences,
                seconds,
            )
            metrics.observe_request(response.status_code, seconds)
            return response

        return route

    def unknown(model_name: str) -> JSONResponse:
        return error(404, f"no model {model_name!r}; this server has {name!r}")

    async def status(request):
        if ":" in request.path_params["name"]:  # GET on NAME:predict
            return await wrong_method(request)
        if request.path_params["name"] != name:
            return unknown(request.path_params["name"])
        state = {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        return JSONResponse({"model_version_status": [state]})

    async def metadata(request):
        if request.path_params["name"] != name:
            return unknown(request.path_params["name"])
        return JSONResponse(signature_metadata(name))

    async def wrong_method(request):
        return error(405, f"{request.method} is not allowed here; use POST /v1/models/{name}:predict")

    async def predict(request):
        arrived = time.monotonic()
        model_name, _, method = request.path_params["call"].partition(":")
        if model_name != name:
            return unknown(model_name)
        if method != "predict":
            return error(400, f"unknown method {method!r}; use :predict")
        try:
            deadline = request_deadline(request, limits, arrived)
            lines, rows = parse_request(await read_body(request, limits), limits)
            request.state.sentences = len(lines)
            options = getattr(lines[0], "options", None) if lines else None
            if options is not None and hasattr(translate, "check"):
                try:
                    translate.check(options)
                except OptionError as refused:
                    raise RequestError(400, str(refused)) from None
            results = await until_answered_or_gone(request, batcher.submit(lines, deadline), deadline) if lines else []
        except RequestError as problem:
            return error(problem.status, str(problem), problem.headers)
        except ClientDisconnect:  # nobody is left to answer
            return error(400, "the client disconnected")
        except Overloaded as problem:
            return error(503, str(problem), {"Retry-After": str(problem.retry_after)})
        except DeadlineExceeded as problem:
            return error(504, str(problem))
        except TranslationFailed as problem:
            return error(500, str(problem))
        except Exception as problem:  # noqa: BLE001 -- a fault of the server: logged, answered 500, the server stays up
            log.exception("%s %s failed", request.method, request.url.path)
            return error(500, f"internal error: {type(problem).__name__}")
        if results is None:
            return Response(status_code=499)  # the client left; nobody reads this
        if rows:
            return JSONResponse({"predictions": results})
        keys = OUTPUTS + (("alignments",) if results and "alignments" in results[0] else ())
        return JSONResponse({"outputs": {key: [result[key] for result in results] for key in keys}})

    async def prometheus(request):
        return Response(metrics.exposition(batcher.queued), media_type=metrics.content_type)

    return Starlette(
        routes=[
            Route("/v1/models/{name}", logged(status), methods=["GET"]),
            Route("/v1/models/{name}/metadata", logged(metadata), methods=["GET"]),
            Route("/v1/models/{call}", logged(predict), methods=["POST"]),
            Route("/v1/models/{call}", logged(wrong_method), methods=["PUT", "DELETE", "PATCH"]),
            Route("/monitoring/prometheus/metrics", prometheus, methods=["GET"]),
        ]
    )


async def until_answered_or_gone(request, work, deadline: float):
    """`await work`, unless the client disconnects first (then the work is cancelled, not computed, and None),
    or the deadline (`time.monotonic()`) passes first (then it is cancelled and :class:`DeadlineExceeded`)."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(client_gone(request))
    done, _ = await asyncio.wait(
        {task, gone}, timeout=max(0.0, deadline - time.monotonic()), return_when=asyncio.FIRST_COMPLETED
    )
    gone.cancel()
    if task in done:
        return task.result()
    task.cancel()
    if gone in done:
        return None
    raise DeadlineExceeded("the request's deadline passed before its translation was done")


async def client_gone(request) -> None:
    """Returns when the ASGI server reports the client disconnected (the body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def signature_metadata(name: str) -> dict:
    """`GET /v1/models/NAME/metadata` as TensorFlow Serving answers it for the exported `serving_default`."""

    def tensor(dtype: str, dims: list[int], tensor_name: str) -> dict:
        shape = {"dim": [{"size": str(size), "name": ""} for size in dims], "unknown_rank": False}
        return {"dtype": dtype, "tensor_shape": shape, "name": tensor_name}

    outputs = {
        "translations": tensor("DT_STRING", [-1], "StatefulPartitionedCall:0"),
        "scores": tensor("DT_FLOAT", [-1], "StatefulPartitionedCall:1"),
        "nbest": tensor("DT_STRING", [-1, -1], "StatefulPartitionedCall:2"),
        "nbest_scores": tensor("DT_FLOAT", [-1, -1], "StatefulPartitionedCall:3"),
    }
    signature = {
        "inputs": {"inputs": tensor("DT_STRING", [-1], "serving_default_inputs:0")},
        "outputs": outputs,
        "method_name": "tensorflow/serving/predict",
    }
    return {
        "model_spec": {"name": name, "signature_name": "", "version": "1"},
        "metadata": {"signature_def": {"signature_def": {"serving_default": signature}}},
    }
