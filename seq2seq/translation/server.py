"""`seq2seq serve`: TensorFlow Serving's REST predict protocol for a translation model (Starlette on uvicorn).

Routes, `NAME` being `--name` (default: the model folder's name):

- `GET /v1/models/NAME`: the model's status, as TensorFlow Serving answers it.
- `POST /v1/models/NAME:predict`: the row format `{"instances": ["text", ...]}`
  (or instances `{"inputs": "text"}`) answers `{"predictions": [{"translations",
  "scores", "nbest", "nbest_scores"}, ...]}`, one per instance in order; the
  columnar format `{"inputs": ["text", ...]}` (or `{"inputs": {"inputs": [...]}}`)
  answers `{"outputs": {"translations": [...], "scores": [...], ...}}`. The
  names are the outputs of the exported SavedModel's `serving_default`
  (:mod:`seq2seq.translation.export`), so a client can move to TensorFlow
  Serving unchanged.

Errors answer `{"error": "..."}`: 400 for a malformed request, 404 for
another model name, 413 for more than `max_sentences` sentences or a
sentence of more than `max_chars` characters (or a body above 1 MB).

Concurrent requests are batched together: the first waiting request opens a
window of `window_ms` milliseconds (or until `max_batch` sentences wait),
then all waiting sentences are translated in one call and each request gets
back exactly its own slice, in its order. One thread runs the model, so
batches never compete for the CPU. A client that disconnects mid-request
only loses its own answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

MAX_BODY = 1 << 20  # bytes


@dataclasses.dataclass
class Limits:
    max_sentences: int = 64  # per request
    max_chars: int = 2000  # per sentence
    max_batch: int = 64  # sentences translated together
    window_ms: float = 5.0  # how long the first waiting request waits for company


class RequestError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Batcher:
    """Collects the sentences of concurrent requests into batches for `translate` (lines -> result dicts)."""

    def __init__(self, translate: Callable[[list[str]], list[dict]], limits: Limits):
        self.translate = translate
        self.limits = limits
        self.queue: asyncio.Queue | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="translate")
        self.worker: asyncio.Task | None = None

    async def submit(self, lines: list[str]) -> list[dict]:
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.worker = asyncio.get_running_loop().create_task(self._work())
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((lines, future))
        return await future

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            waiting = [await self.queue.get()]
            deadline = loop.time() + self.limits.window_ms / 1000
            while sum(len(lines) for lines, _ in waiting) < self.limits.max_batch:
                try:
                    waiting.append(await asyncio.wait_for(self.queue.get(), max(0.0, deadline - loop.time())))
                except asyncio.TimeoutError:
                    break
            live = [(lines, future) for lines, future in waiting if not future.cancelled()]
            if not live:
                continue
            lines = [line for request, _ in live for line in request]
            try:
                results = await loop.run_in_executor(self.executor, self.translate, lines)
            except Exception as error:  # noqa: BLE001 -- answered as a 500 to the requests of this batch
                for _, future in live:
                    if not future.done():
                        future.set_exception(error)
                continue
            start = 0
            for request, future in live:
                if not future.done():  # a client that went away has a cancelled future
                    future.set_result(results[start : start + len(request)])
                start += len(request)


def parse_request(body: bytes, limits: Limits) -> tuple[list[str], bool]:
    """The sentences of a predict request, and whether it used the row format."""
    if len(body) > MAX_BODY:
        raise RequestError(413, f"the request body is over {MAX_BODY} bytes")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(400, f"the body is not JSON ({error})") from None
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
    return items, rows


def make_app(translate: Callable[[list[str]], list[dict]], name: str, limits: Limits | None = None):
    """The ASGI application (see the module doc); `translate` maps sentences to output dicts."""
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    limits = limits or Limits()
    batcher = Batcher(translate, limits)

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def status(request):
        if request.path_params["name"] != name:
            return error(404, f"no model {request.path_params['name']!r}; this server has {name!r}")
        return JSONResponse(
            {
                "model_version_status": [
                    {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
                ]
            }
        )

    async def predict(request):
        model_name, _, method = request.path_params["call"].partition(":")
        if model_name != name:
            return error(404, f"no model {model_name!r}; this server has {name!r}")
        if method != "predict":
            return error(400, f"unknown method {method!r}; use :predict")
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            return error(413, f"the request body is over {MAX_BODY} bytes")
        try:
            lines, rows = parse_request(await request.body(), limits)
            results = await batcher.submit(lines) if lines else []
        except RequestError as problem:
            return error(problem.status, str(problem))
        except ClientDisconnect:  # nobody is left to answer
            return error(400, "the client disconnected")
        except Exception as problem:  # noqa: BLE001 -- a failed batch: the server stays up
            return error(500, f"translation failed: {problem}")
        if rows:
            return JSONResponse({"predictions": results})
        return JSONResponse(
            {
                "outputs": {
                    key: [result[key] for result in results]
                    for key in ("translations", "scores", "nbest", "nbest_scores")
                }
            }
        )

    return Starlette(
        routes=[
            Route("/v1/models/{name}", status, methods=["GET"]),
            Route("/v1/models/{call}", predict, methods=["POST"]),
        ]
    )


def translator_function(translator, batch_size: int) -> Callable[[list[str]], list[dict]]:
    """`translate` for :func:`make_app` from a :class:`~seq2seq.translation.translator.Translator`."""

    def translate(lines: list[str]) -> list[dict]:
        return [
            {
                "translations": hypotheses[0].text,
                "scores": hypotheses[0].normalized_score,
                "nbest": [h.text for h in hypotheses],
                "nbest_scores": [h.normalized_score for h in hypotheses],
            }
            for hypotheses in translator.translate(lines, batch_size=batch_size)
        ]

    return translate
