"""The `seq2seq export` and `serve` commands: a translation model for other programs."""

from __future__ import annotations

import time
from pathlib import Path

from seq2seq.cli.translation import default_model, make_translator
from seq2seq.errors import UserError
from seq2seq.outputs import check_replaceable


def export(arguments) -> int:
    """`export`: the model as a SavedModel with text in and text out (see seq2seq.translation.export)."""
    from seq2seq.model_dirs import load_translation_model
    from seq2seq.translation.export import export_saved_model, is_export

    output = Path(arguments.output)
    if output.exists() and not arguments.overwrite:
        raise UserError(f"{output}: exists; pass --overwrite to replace it.")
    check_replaceable(output, is_export, "SavedModel")
    model_dir = Path(arguments.model or default_model())
    model, source_vocab, target_vocab = load_translation_model(model_dir)
    started = time.perf_counter()
    export_saved_model(model, source_vocab, target_vocab, output, arguments.max_source_tokens)
    print(
        f"exported {model_dir} to {output} in {time.perf_counter() - started:.1f}s: signatures serving_default "
        "(inputs), translate (inputs, beam_size, alpha, max_length_ratio, max_length_offset) and translate_with_terms "
        "(inputs, terms)"
    )
    return 0


def serve(arguments) -> int:
    """`serve`: TensorFlow Serving's REST predict protocol on --host:--port (see seq2seq.translation.server)."""
    import socket

    from seq2seq.model_dirs import load_translation_model
    from seq2seq.translation.listener import serve_forever
    from seq2seq.translation.server import Limits, make_app, translator_function

    if arguments.max_queue < arguments.max_sentences:
        raise UserError(
            f"--max-queue {arguments.max_queue} is below --max-sentences {arguments.max_sentences}: a request of "
            "that size could never be queued; raise --max-queue."
        )
    try:  # a clear error before loading the model, rather than uvicorn's after
        with socket.create_server((arguments.host, arguments.port)):
            pass
    except OSError as error:
        raise UserError(
            f"--host {arguments.host} --port {arguments.port}: cannot listen there ({error.strerror}); "
            "choose another port."
        ) from None
    model_dir = Path(arguments.model or default_model())
    model, source_vocab, target_vocab = load_translation_model(model_dir)
    translator = make_translator(arguments, model, source_vocab, target_vocab, n_best=arguments.beam)
    translator.translate(["Hallo Welt."])  # compile the search before the first request
    name = arguments.name or model_dir.resolve().name
    limits = Limits(
        max_sentences=arguments.max_sentences,
        max_chars=arguments.max_chars,
        max_batch=arguments.batch_size,
        window_ms=arguments.batch_window_ms,
        max_queue=arguments.max_queue,
        timeout=arguments.timeout,
        body_timeout=arguments.header_timeout,
    )
    app = make_app(translator_function(translator, arguments.batch_size), name, limits)
    print(
        f"serving {model_dir} as {name!r}: GET http://{arguments.host}:{arguments.port}/v1/models/{name}, "
        f"POST .../v1/models/{name}:predict (Ctrl-C stops)",
        flush=True,
    )
    serve_forever(app, arguments.host, arguments.port, arguments.header_timeout, arguments.grace_seconds)
    return 0
