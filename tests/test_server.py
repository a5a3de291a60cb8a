"""`seq2seq serve`: TensorFlow Serving's REST protocol, concurrent clients batched, limits, disconnects."""

import http.client
import json
import socket
import threading
import time

import pytest

from seq2seq.cli import main
from seq2seq.core.decoding import DecodingOptions
from seq2seq.model_dirs import load_translation_model
from seq2seq.translation.server import Limits, make_app, translator_function
from seq2seq.translation.translator import Translator

WORDS = [
    "ein hund läuft im park .",
    "zwei kinder spielen im garten .",
    "eine frau liest .",
    "hund",
    "",
    "ein mann fährt fahrrad .",
    "ein kleines mädchen spielt mit einem ball .",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(toy_translation_dir):
    """A running server on loopback, and the translator it uses (for the expected answers)."""
    import uvicorn

    model, source, target = load_translation_model(toy_translation_dir)
    translator = Translator(model, source, target, DecodingOptions(beam_size=3, n_best=3))
    translate = translator_function(translator, batch_size=16)
    app = make_app(translate, "toy", Limits(max_sentences=8, max_chars=200, max_batch=16, window_ms=20))
    port = free_port()
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    while not instance.started:
        time.sleep(0.05)
    yield port, translate
    instance.should_exit = True
    thread.join(timeout=10)


def request(port, method, path, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    payload = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = response.status, json.loads(response.read())
    connection.close()
    return answer


def test_status_and_both_request_formats(server):
    port, translate = server
    status, body = request(port, "GET", "/v1/models/toy")
    assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
    expected = translate(WORDS[:3])
    status, body = request(port, "POST", "/v1/models/toy:predict", {"instances": WORDS[:3]})
    assert status == 200 and body["predictions"] == json.loads(json.dumps(expected))
    status, body = request(
        port, "POST", "/v1/models/toy:predict", {"instances": [{"inputs": line} for line in WORDS[:3]]}
    )
    assert status == 200 and [p["translations"] for p in body["predictions"]] == [e["translations"] for e in expected]
    status, body = request(port, "POST", "/v1/models/toy:predict", {"inputs": WORDS[:3]})
    assert status == 200 and body["outputs"]["translations"] == [e["translations"] for e in expected]
    assert len(body["outputs"]["nbest"][0]) == 3


def test_concurrent_clients_each_get_their_own_translations_in_order(server):
    port, translate = server
    jobs = [[WORDS[(start + k) % len(WORDS)] for k in range(1 + start % 4)] for start in range(16)]
    answers = [None] * len(jobs)

    def client(index):
        answers[index] = request(port, "POST", "/v1/models/toy:predict", {"instances": jobs[index]})

    threads = [threading.Thread(target=client, args=(index,)) for index in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for job, (status, body) in zip(jobs, answers):
        assert status == 200
        assert [p["translations"] for p in body["predictions"]] == [e["translations"] for e in translate(job)]


@pytest.mark.parametrize(
    "body,status,message",
    [
        ({"instances": ["a"] * 9}, 413, "at most 8"),
        ({"instances": ["a" * 201]}, 413, "at most 200"),
        (b"x" * ((1 << 20) + 1), 413, "over"),
        (b"{not json", 400, "not JSON"),
        ({"instances": [1, 2]}, 400, "list of strings"),
        ({"instances": ["a"], "inputs": ["b"]}, 400, "either"),
        ({"instances": ["a"], "signature_name": "other"}, 400, "signature_name"),
    ],
)
def test_bad_requests_get_a_json_error(server, body, status, message):
    port, _ = server
    answer_status, answer = request(port, "POST", "/v1/models/toy:predict", body)
    assert answer_status == status and message in answer["error"]


def test_another_model_name_is_not_found(server):
    port, _ = server
    assert request(port, "GET", "/v1/models/other")[0] == 404
    assert request(port, "POST", "/v1/models/other:predict", {"instances": ["a"]})[0] == 404


def test_a_client_that_disconnects_mid_request_does_not_hurt_the_others(server):
    port, translate = server
    with socket.create_connection(("127.0.0.1", port)) as half:  # promises 1000 bytes, sends 12, leaves
        half.sendall(
            b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"instances"'
        )
    body = json.dumps({"instances": WORDS[:2]}).encode()
    with socket.create_connection(("127.0.0.1", port)) as impatient:  # sends it all, leaves before the answer
        impatient.sendall(
            b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
    status, answer = request(port, "POST", "/v1/models/toy:predict", {"instances": WORDS[2:4]})
    assert status == 200
    assert [p["translations"] for p in answer["predictions"]] == [e["translations"] for e in translate(WORDS[2:4])]


def test_serve_refuses_a_port_in_use(toy_translation_dir, capsys):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        code = main(["serve", "--model", str(toy_translation_dir), "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2 and f"--port {port}: cannot listen there" in err and "Traceback" not in err


def test_a_string_the_model_cannot_take_fails_alone_among_eight_innocent_requests(server):
    """Ten rounds: 8 innocent requests and one holding a lone surrogate (valid JSON), sent together."""
    port, translate = server
    expected = [e["translations"] for e in translate(WORDS[:2])]
    poison = b'{"instances": ["eine frau liest .", "\\ud800"]}'
    for _ in range(10):
        answers = [None] * 9

        def client(index, answers=answers):
            body = poison if index == 8 else {"instances": WORDS[:2]}
            answers[index] = request(port, "POST", "/v1/models/toy:predict", body)

        threads = [threading.Thread(target=client, args=(index,)) for index in range(9)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for status, body in answers[:8]:
            assert status == 200 and [p["translations"] for p in body["predictions"]] == expected
        assert answers[8][0] == 400 and "instance 1 is not valid Unicode text" in answers[8][1]["error"]


def test_a_request_s_glossary_markup_and_alignments_are_its_own(server):
    port, translate = server
    plain = translate(WORDS[:2])
    jobs = {
        "glossary": {"instances": WORDS[:2], "glossary": {"hund": "cat"}},
        "markup": {"instances": ["ein <b>hund</b> läuft", "zwei kinder<br/>spielen"], "markup": True},
        "alignments": {"inputs": WORDS[:2], "alignments": True},
        "plain": {"instances": WORDS[:2]},
        "bad glossary": {"instances": WORDS[:2], "glossary": {"hund": "\u2603"}},
        "bad markup": {"instances": ["ok", "<b>x</i>"], "markup": True},
        "bad flag": {"instances": WORDS[:2], "markup": "yes"},
    }
    answers = {}

    def client(name):
        answers[name] = request(port, "POST", "/v1/models/toy:predict", jobs[name])

    threads = [threading.Thread(target=client, args=(name,)) for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    status, body = answers["glossary"]
    assert status == 200 and any("cat" in p["translations"].split() for p in body["predictions"])
    status, body = answers["markup"]
    assert status == 200
    assert [p["translations"].count(tag) for p, tag in zip(body["predictions"], ("</b>", "<br/>"))] == [1, 1]
    status, body = answers["alignments"]
    assert status == 200 and len(body["outputs"]["alignments"]) == 2
    assert all(pair.count("-") == 1 for line in body["outputs"]["alignments"] for pair in line.split())
    assert answers["plain"] == (200, {"predictions": json.loads(json.dumps(plain))})  # neighbours untouched
    assert answers["bad glossary"][0] == 400 and "cannot spell" in answers["bad glossary"][1]["error"]
    assert (
        answers["bad markup"][0] == 400 and "instance 1: </i> closes the open <b>" in answers["bad markup"][1]["error"]
    )
    assert answers["bad flag"][0] == 400 and '"markup" must be true or false' in answers["bad flag"][1]["error"]
