"""The `seq2seq models list | install | pack` commands: installed models by name (see :mod:`seq2seq.catalog`)."""

from __future__ import annotations

import json
from pathlib import Path

from seq2seq.cli.arguments import model_directory
from seq2seq.errors import UserError


def add_models_commands(commands) -> None:
    """`seq2seq models list | install | pack` on the `commands` subparsers."""
    models = commands.add_parser("models", help="installed models by name: list, install, pack")
    steps = models.add_subparsers(dest="models_command", required=True, metavar="STEP")
    listing = steps.add_parser("list", help="the models a name finds, with task, languages, size and headline score")
    listing.add_argument("--json", action="store_true", help="one JSON object per model")
    install = steps.add_parser("install", help="install a model directory or archive (path or http(s) URL)")
    install.add_argument("source", help="a model directory, a .tar.gz of `models pack`, or its URL")
    install.add_argument("--name", help="install under this name (default: the directory's or archive's name)")
    install.add_argument("--sha256", help="the archive's checksum (default: read from SOURCE.sha256)")
    install.add_argument("--overwrite", action="store_true", help="replace an installed model of that name")
    pack = steps.add_parser("pack", help="a .tar.gz of a model directory and its .sha256, for `models install`")
    pack.add_argument("model", type=model_directory, help="model directory or name")
    pack.add_argument("-o", "--output", required=True, help="the archive (.tar.gz)")
    pack.add_argument("--overwrite", action="store_true", help="replace an existing archive")
    for name, step in (("list", listing), ("install", install), ("pack", pack)):
        step.set_defaults(handler=f"seq2seq.cli.models:{name}_models")


def list_models(arguments) -> int:
    from seq2seq.catalog import installed, search_path

    models = installed()
    if arguments.json:
        for model in models:
            print(json.dumps(model))
        return 0
    print("search path: " + " : ".join(str(folder) for folder in search_path()))
    columns = ("name", "task", "languages", "size_mb", "headline", "path")
    rows = [
        [str(model[column]) + (" (hidden)" if column == "name" and model["hidden"] else "") for column in columns]
        for model in models
    ]
    widths = [max([len(column)] + [len(row[i]) for row in rows]) for i, column in enumerate(columns)]
    for row in [list(columns)] + rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if not models:
        print("no models installed; `seq2seq models install SOURCE` installs one.")
    return 0


def install_models(arguments) -> int:
    from seq2seq.catalog import install

    target = install(arguments.source, arguments.name, arguments.sha256, arguments.overwrite)
    print(f"installed {target.name} in {target}")
    return 0


def pack_models(arguments) -> int:
    from seq2seq.catalog import pack
    from seq2seq.outputs import check_output_path

    check_output_path(arguments.output)
    if Path(arguments.output).exists() and not arguments.overwrite:
        raise UserError(f"{arguments.output}: exists; pass --overwrite to replace it.")
    digest = pack(arguments.model, arguments.output)
    print(f"wrote {arguments.output} (sha256 {digest}) and {arguments.output}.sha256")
    return 0
