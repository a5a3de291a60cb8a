"""`seq2seq serve` under hostile clients and overload: isolation, a bounded queue, deadlines, timeouts, SIGTERM.

These run the real application on uvicorn on loopback, with a stand-in
`translate` whose speed and failures the test controls (the model is not
what they test; tests/test_server.py runs a trained one).
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from seq2seq.translation.listener import guarded_h11
from seq2seq.translation.server import Limits, make_app


class StandIn:
    """`translate` that records what it computes, can be held, fails on "POISON", and takes `seconds` a call."""

    def __init__(self, seconds: float = 0.0):
        self.seconds = seconds
        self.calls: list[list[str]] = []
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()

    def __call__(self, lines):
        self.started.set()
        self.release.wait(timeout=30)
        self.calls.append(list(lines))
        if "POISON" in lines:
            raise RuntimeError("the model cannot take this")
        time.sleep(self.seconds)
        return [
            {"translations": line.upper(), "scores": -1.0, "nbest": [line.upper()], "nbest_scores": [-1.0]}
            for line in lines
        ]

    def computed(self) -> list[str]:
        return [line for call in self.calls for line in call]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def serve():
    """`serve(translate, **limits) -> port`: the application on uvicorn in a thread, stopped after the test."""
    import uvicorn

    servers = []

    def start(translate, header_timeout=5.0, **limits):
        limits = {"window_ms": 20.0, **limits}
        port = free_port()
        config = uvicorn.Config(
            make_app(translate, "toy", Limits(**limits)),
            host="127.0.0.1",
            port=port,
            http=guarded_h11(header_timeout),
            log_level="warning",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        while not server.started:
            time.sleep(0.02)
        return port

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def post(port, lines, headers=None, timeout=30):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    body = json.dumps({"instances": lines}).encode()
    connection.request("POST", "/v1/models/toy:predict", body, {"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    answer = response.status, json.loads(response.read()), response.headers
    connection.close()
    return answer


def concurrently(functions):
    results = [None] * len(functions)

    def run(index):
        results[index] = functions[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_request_the_model_fails_on_fails_alone_among_innocent_ones(serve):
    """Ten rounds of 8 innocent requests and 1 poisoned one in the same batch window: only the poisoned one fails."""
    translate = StandIn()
    port = serve(translate, window_ms=200.0)
    for _ in range(10):
        innocent = [[f"satz {index}", f"noch {index}"] for index in range(8)]
        answers = concurrently([lambda lines=lines: post(port, lines) for lines in innocent + [["gut", "POISON"]]])
        for lines, (status, body, _) in zip(innocent, answers[:8]):
            assert status == 200 and [p["translations"] for p in body["predictions"]] == [x.upper() for x in lines]
        assert answers[8][0] == 500 and "translation failed" in answers[8][1]["error"]
    assert any(len(call) > 2 for call in translate.calls)  # they did share batches before the retry


@pytest.mark.parametrize(
    "instance, message",
    [("\ud800", "instance 1 is not valid Unicode text"), ("a\x00b", "instance 1 holds the control character U+0000")],
)
def test_text_the_tokenizer_cannot_take_is_refused_before_batching(serve, instance, message):
    translate = StandIn()
    port = serve(translate)
    status, body, _ = post(port, ["gut", instance])
    assert status == 400 and message in body["error"] and translate.calls == []
    assert post(port, ["tab\tand\nnewline"])[0] == 200  # tab, CR and LF are white space


def test_a_full_queue_answers_503_with_retry_after_at_once(serve):
    translate = StandIn()
    translate.release.clear()  # the model is busy
    port = serve(translate, max_queue=4, piece_sentences=2, max_batch=2)
    first = threading.Thread(target=post, args=(port, ["a", "b"]))
    first.start()
    assert translate.started.wait(10)  # ["a", "b"] is being computed; the queue is empty
    waiting = threading.Thread(target=post, args=(port, ["c", "d", "e", "f"]))
    waiting.start()
    time.sleep(0.3)  # four sentences wait: the queue is full
    started = time.monotonic()
    status, body, headers = post(port, ["g"])
    assert status == 503 and "busy" in body["error"] and int(headers["Retry-After"]) >= 1
    assert time.monotonic() - started < 2
    translate.release.set()
    first.join()
    waiting.join()
    assert post(port, ["h"])[0] == 200  # room again


def test_work_that_cannot_meet_its_deadline_answers_504_and_is_not_computed(serve):
    translate = StandIn(seconds=0.0)
    translate.release.clear()
    port = serve(translate, timeout=30.0)
    first = threading.Thread(target=post, args=(port, ["a"]))
    first.start()
    assert translate.started.wait(10)
    late = []
    waiting = threading.Thread(target=lambda: late.append(post(port, ["late"], {"X-Request-Timeout": "0.3"})))
    waiting.start()
    time.sleep(0.8)  # its deadline passes while the model is busy
    translate.release.set()
    first.join()
    waiting.join()
    assert late[0][0] == 504 and "deadline" in late[0][1]["error"]
    assert "late" not in translate.computed()
    assert post(port, ["x"], {"X-Request-Timeout": "soon"})[0] == 400


def test_a_request_whose_client_left_is_not_computed(serve):
    translate = StandIn()
    translate.release.clear()
    port = serve(translate)
    first = threading.Thread(target=post, args=(port, ["a"]))
    first.start()
    assert translate.started.wait(10)
    body = json.dumps({"instances": ["abandoned"]}).encode()
    with socket.create_connection(("127.0.0.1", port)) as leaving:
        leaving.sendall(
            b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        time.sleep(0.3)  # queued behind the busy model
    time.sleep(0.3)  # the server notices the client has gone
    translate.release.set()
    first.join()
    assert post(port, ["after"])[0] == 200
    assert "abandoned" not in translate.computed()


def test_a_long_request_does_not_hold_the_model_for_its_whole_length(serve):
    """A 16-sentence request goes in pieces of 4; a one-sentence request that arrives after it waits for one piece."""
    translate = StandIn(seconds=0.2)
    port = serve(translate, piece_sentences=4, max_batch=16, window_ms=1.0)
    long = threading.Thread(target=post, args=(port, [f"lang {index}" for index in range(16)]))
    long.start()
    time.sleep(0.1)
    assert post(port, ["kurz"])[0] == 200
    long.join()
    order = [line for call in translate.calls for line in call]
    assert order.index("kurz") < order.index("lang 15")


def test_an_oversized_chunked_body_is_refused_before_it_is_all_sent(serve):
    port = serve(StandIn(), max_body=1000)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(
            b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        # 1,024 bytes in two chunks and no final chunk: the body never ends. (Nothing more is sent: bytes the
        # server has not read when it closes would make it reset the connection, losing the answer.)
        client.sendall(2 * (b"200\r\n" + b"x" * 512 + b"\r\n"))
        answer = b""
        while chunk := client.recv(4096):  # the server answers and closes
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413") and b"over 1000 bytes" in answer


def test_stalled_connections_are_closed(serve):
    port = serve(StandIn(), header_timeout=0.5, body_timeout=0.5)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
        started = time.monotonic()
        assert idle.recv(100) == b"" and time.monotonic() - started < 5  # never sent a byte
    with socket.create_connection(("127.0.0.1", port), timeout=10) as partial:
        partial.sendall(b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        assert partial.recv(100) == b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
        slow.sendall(
            b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b'{"instances"'
        )
        answer = slow.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408")


def test_routes_methods_metadata_metrics_and_the_access_log(serve, caplog):
    port = serve(StandIn())
    caplog.set_level("INFO", logger="seq2seq.serve")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/v1/models/toy:predict")
    response = connection.getresponse()
    assert response.status == 405 and "POST" in json.loads(response.read())["error"]
    connection.request("GET", "/v1/models/toy/metadata")
    response = connection.getresponse()
    signature = json.loads(response.read())["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert response.status == 200 and set(signature["outputs"]) == {"translations", "scores", "nbest", "nbest_scores"}
    connection.request("POST", "/v1/models/toy:predict", b"[" * 100_000, {"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 400 and "nested too deeply" in json.loads(response.read())["error"]
    connection.close()
    assert post(port, ["eins", "zwei"])[0] == 200
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/monitoring/prometheus/metrics")
    metrics = connection.getresponse().read().decode()
    assert 'seq2seq_requests_total{code="200"} 2.0' in metrics  # metadata and the predict
    assert 'seq2seq_requests_total{code="405"} 1.0' in metrics and "seq2seq_queued_sentences 0.0" in metrics
    assert "seq2seq_batch_sentences_count 1.0" in metrics
    lines = [record.getMessage() for record in caplog.records if record.name == "seq2seq.serve"]
    assert any(line.startswith("POST /v1/models/toy:predict 200 2 sentences ") for line in lines), lines


SERVER = textwrap.dedent(
    """
    import sys, time
    from seq2seq.translation.listener import serve_forever
    from seq2seq.translation.server import Limits, make_app

    def translate(lines):
        return [{"translations": l, "scores": 0.0, "nbest": [l], "nbest_scores": [0.0]} for l in lines]

    app = make_app(translate, "toy", Limits(body_timeout=600))
    print("listening", flush=True)
    serve_forever(app, "127.0.0.1", int(sys.argv[1]), header_timeout=600, grace_seconds=1.0)
    """
)


def test_sigterm_with_a_stalled_client_exits_within_the_grace_period(tmp_path):
    port = free_port()
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    process = subprocess.Popen(
        [sys.executable, str(script), str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "listening"
        for _ in range(200):
            try:
                stalled = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        stalled.sendall(b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.3)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        assert time.monotonic() - started < 4, "did not exit within the 1 s grace period (and start-up slack)"
        stalled.close()
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def test_a_kept_alive_connection_must_send_its_next_head_in_time(serve):
    port = serve(StandIn(), header_timeout=0.5)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"GET /v1/models/toy HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"}]}"):  # the whole answer: its head and its JSON body
            answer += client.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        time.sleep(0.1)
        client.sendall(b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\n")  # the next head never ends
        started = time.monotonic()
        assert client.recv(100) == b"" and time.monotonic() - started < 5


def test_the_server_stops_waiting_at_the_deadline_even_for_work_that_started(serve):
    translate = StandIn(seconds=2.0)  # no speed measured yet: the piece starts, then takes longer than allowed
    port = serve(translate)
    started = time.monotonic()
    status, body, _ = post(port, ["slow"], {"X-Request-Timeout": "0.5"})
    assert status == 504 and time.monotonic() - started < 1.8


def test_serve_refuses_a_queue_smaller_than_one_request(capsys):
    from seq2seq.cli import main

    assert main(["serve", "--model", "nowhere", "--max-queue", "4", "--max-sentences", "8"]) == 2
    assert "--max-queue 4 is below --max-sentences 8" in capsys.readouterr().err
