"""Benchmark `seq2seq serve`: sentences/s and latency with 1, 4 and 16 concurrent clients on loopback.

Usage (from the repository root, nothing else running):
    python bench/serve_bench.py [--model saved_models/multi30k_de_en] [--seconds 20] [--clients 1,4,16]
    python bench/serve_bench.py --open-loop [--seconds 60] [--timeout 10]

`--open-loop` measures overload instead: the capacity C (sentences/s with 16
closed-loop clients, 10 s), then one-sentence requests sent at fixed rates
of 0.5 C and 2 C for `--seconds` each, whether or not earlier ones were
answered (an open load, as real users send). For each rate it prints the
answered throughput, p50/p99 latency of the answered (200) requests, and the
shares answered 503 (queue full) and 504 (deadline); the server runs with
`--timeout` (its deadline) and its default queue bound. The client threads
share the 2 cores with the server.

Starts `seq2seq serve` in a subprocess on a free loopback port and waits for
its status route. Then, for each client count, that many threads send
requests of one sentence each (drawn in turn from `--source`, one request
after the other per client) for `--seconds` seconds, after a 2-second
warm-up. Prints sentences/s over the timed window and the p50/p99 latency
of the requests that finished in it. The server batches concurrent
requests (its `--batch-window-ms`), which is what more clients measure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from common import fail, host_line, warn_if_busy

from seq2seq.textio import read_lines


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(port: int, name: str, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"the server ended with status {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", f"/v1/models/{name}")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    fail("the server did not start in time")


def drive(port: int, name: str, sentences: list[str], clients: int, seconds: float) -> dict:
    """Runs `clients` threads for a 2 s warm-up plus `seconds`; returns the timed window's figures."""
    start = time.monotonic() + 2.0
    stop = start + seconds
    latencies: list[float] = []
    lock = threading.Lock()
    errors = []

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        index = offset
        while time.monotonic() < stop:
            body = json.dumps({"instances": [sentences[index % len(sentences)]]})
            began = time.monotonic()
            connection.request(
                "POST", f"/v1/models/{name}:predict", body=body, headers={"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            ended = time.monotonic()
            if response.status != 200:
                errors.append(response.status)
                return
            if began >= start and ended <= stop:
                with lock:
                    latencies.append(ended - began)
            index += clients

    threads = [threading.Thread(target=client, args=(offset,)) for offset in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        fail(f"requests failed with status {errors[0]}")
    latencies.sort()
    return {
        "sentences_per_s": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "requests": len(latencies),
    }


def open_loop(port: int, name: str, sentences: list[str], rate: float, seconds: float) -> dict:
    """One-sentence requests at `rate` per second for `seconds`, each on its own connection; their outcomes."""
    outcomes: list[tuple[int, float]] = []
    lock = threading.Lock()

    def send(index: int) -> None:
        body = json.dumps({"instances": [sentences[index % len(sentences)]]})
        began = time.monotonic()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            connection.request(
                "POST", f"/v1/models/{name}:predict", body=body, headers={"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            status = response.status
            connection.close()
        except OSError:
            status = 0  # refused or reset
        with lock:
            outcomes.append((status, time.monotonic() - began))

    total = int(rate * seconds)
    with ThreadPoolExecutor(max_workers=512) as pool:
        start = time.monotonic()
        for index in range(total):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, index)
    answered = sorted(latency for status, latency in outcomes if status == 200)
    share = {code: sum(status == code for status, _ in outcomes) / len(outcomes) for code in (503, 504, 0)}
    return {
        "sent": len(outcomes),
        "throughput": len(answered) / seconds,
        "p50_ms": 1000 * statistics.median(answered) if answered else float("nan"),
        "p99_ms": 1000 * answered[min(len(answered) - 1, int(0.99 * len(answered)))] if answered else float("nan"),
        "share": share,
        "other": sorted({status for status, _ in outcomes} - {200, 503, 504, 0}),
    }


def report_open_loop(port: int, name: str, sentences: list[str], arguments) -> None:
    capacity = drive(port, name, sentences, 16, 10.0)["sentences_per_s"]
    print(f"capacity: {capacity:.1f} sentences/s (16 closed-loop clients, 10 s)", flush=True)
    for factor in (0.5, 2.0):
        rate = factor * capacity
        figures = open_loop(port, name, sentences, rate, arguments.seconds)
        share = figures["share"]
        other = f", other {figures['other']}" if figures["other"] else ""
        print(
            f"open loop at {factor:g}x capacity ({rate:.1f} requests/s, {figures['sent']} sent in "
            f"{arguments.seconds:.0f} s): answered {figures['throughput']:.1f}/s, p50 {figures['p50_ms']:.0f} ms, "
            f"p99 {figures['p99_ms']:.0f} ms (deadline {arguments.timeout * 1000:.0f} ms); "
            f"503 {100 * share[503]:.1f} %, 504 {100 * share[504]:.1f} %, no answer {100 * share[0]:.1f} %{other}",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="saved_models/multi30k_de_en")
    parser.add_argument("--source", default="../shared/data/multi30k/test_2016_flickr.de.gz")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--open-loop", action="store_true", help="overload at 0.5x and 2x capacity (module doc)")
    parser.add_argument("--timeout", type=float, default=10.0, help="the server's --timeout in --open-loop")
    arguments = parser.parse_args()
    warn_if_busy()
    print(host_line())
    sentences = [line for line in read_lines(arguments.source) if line.strip()]
    port, name = free_port(), "bench"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seq2seq",
            "serve",
            "--model",
            arguments.model,
            "--port",
            str(port),
            "--name",
            name,
            "--beam",
            str(arguments.beam),
            "--timeout",
            str(arguments.timeout),
        ],
        stderr=subprocess.DEVNULL if arguments.open_loop else None,  # the access log: a line a request
    )
    try:
        wait_until_up(port, name, server)
        if arguments.open_loop:
            report_open_loop(port, name, sentences, arguments)
            return 0
        for clients in (int(count) for count in arguments.clients.split(",")):
            figures = drive(port, name, sentences, clients, arguments.seconds)
            print(
                f"{clients:>2} clients: {figures['sentences_per_s']:6.1f} sentences/s, p50 {figures['p50_ms']:6.0f} ms,"
                f" p99 {figures['p99_ms']:6.0f} ms ({figures['requests']} one-sentence requests in "
                f"{arguments.seconds:.0f} s, beam {arguments.beam}, {arguments.model})",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
