"""Typed experiment configs: YAML into frozen dataclasses, dotted overrides, strict checks.

A config file is plain YAML read by :func:`parse_yaml` (`yaml.SafeLoader`, so it
never runs code) with two more refusals: aliases (`*name`, whose nested
expansion can turn a few hundred bytes into gigabytes) and duplicate keys
(where YAML would silently keep the last). Numbers follow YAML 1.2, so `1e9`
and `1e-4` are floats (PyYAML's YAML 1.1 rules read them as strings). Error
messages show at most :data:`SHOWN` characters of a value.
Every key must be a field of the dataclass it lands in; an unknown key, a value
of the wrong type, a choice outside its options or a number outside its range
raises :class:`~seq2seq.errors.UserError` naming the key, the value and what is
allowed. Overrides from the command line (`--set training.epochs=3`) are parsed
as YAML scalars and checked the same way.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from seq2seq.core.choices import ACTIVATIONS, CELLS, MAX_SEED, out_of_range
from seq2seq.errors import UserError

T = TypeVar("T")
SHOWN = 200  # characters of a value an error message shows


def shown(value: Any) -> str:
    """`repr(value)`, cut to :data:`SHOWN` characters."""
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[: SHOWN - 20]}... ({len(text):,} characters)"


class ConfigLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses aliases and duplicate keys (see the module doc)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in configs; write the value out", mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<`: PyYAML's merge key, resolved by the base class
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, typing.Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {shown(key)}; a key may appear once", key_node.start_mark
                )
            if isinstance(key, typing.Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.2's float (core schema) where YAML 1.1 needs a dot: `1e9`, `-2E-4`.
ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error's text, cut to a few hundred characters (its excerpt of the line can be long)."""
    text = " ".join(str(error).split())
    return text if len(text) <= 2 * SHOWN else text[: 2 * SHOWN] + "..."


def parse_yaml(text: str) -> Any:
    """`text` as YAML data, read with :class:`ConfigLoader` (raises `yaml.YAMLError`)."""
    return yaml.load(text, Loader=ConfigLoader)  # noqa: S506 -- a SafeLoader subclass


def option(
    default: Any,
    *,
    choices: tuple | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    doc: str = "",
) -> Any:
    """A dataclass field with validation metadata (choices and an inclusive range)."""
    metadata = {"choices": choices, "minimum": minimum, "maximum": maximum, "doc": doc}
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda: default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def nested(cls: type) -> Any:
    """A field holding another config dataclass, defaulting to its defaults."""
    return dataclasses.field(default_factory=cls)


def _type_name(kind: Any) -> str:
    if isinstance(kind, type):
        return {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false"}.get(
            kind.__name__, kind.__name__
        )
    return str(kind)


def _convert(value: Any, kind: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        arguments = typing.get_args(kind)
        if value is None and type(None) in arguments:
            return None
        (inner,) = [argument for argument in arguments if argument is not type(None)]
        return _convert(value, inner, key, source)
    if origin is tuple:
        (inner, _ellipsis) = typing.get_args(kind)
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{source}: key `{key}` must be a list. Received: {key}={shown(value)}")
        return tuple(_convert(item, inner, f"{key}[{index}]", source) for index, item in enumerate(value))
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise UserError(
                f"{source}: key `{key}` must be a mapping of "
                f"{sorted(f.name for f in dataclasses.fields(kind))}. Received: {shown(value)}"
            )
        return from_dict(kind, value, source=source, prefix=f"{key}.")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{source}: key `{key}` must be a finite number. Received: {key}={shown(value)}")
    if kind is str and isinstance(value, str) and not value.strip():
        raise UserError(f"{source}: key `{key}` must not be empty. Received: {key}={shown(value)}")
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise UserError(
            f"{source}: key `{key}` must be {_type_name(kind)}. Received: {key}={shown(value)} ({type(value).__name__})"
        )
    return value


def from_dict(cls: type[T], data: dict, source: str = "config", prefix: str = "") -> T:
    """Builds dataclass `cls` from a mapping, rejecting unknown keys and bad values."""
    if data is None:
        data = {}
    if hasattr(cls, "upgrade_keys"):  # a section that still reads an older spelling of its keys
        try:
            data = cls.upgrade_keys(data, source)
        except ValueError as error:
            raise UserError(str(error)) from None
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserError(
            f"{source}: unknown key `{prefix}{unknown[0]}`. "
            f"Known keys here: {', '.join(prefix + name for name in fields)}."
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        key = prefix + name
        value = _convert(value, hints[name], key, source)
        metadata = fields[name].metadata
        choices = metadata.get("choices")
        if choices is not None and value not in choices:
            raise UserError(f"{source}: key `{key}` must be one of {list(choices)}. Received: {key}={shown(value)}")
        problem = value is not None and out_of_range(value, metadata.get("minimum"), metadata.get("maximum"))
        if problem:
            raise UserError(f"{source}: key `{key}` {problem}. Received: {key}={shown(value)}")
        values[name] = value
    try:
        config = cls(**values)
    except ValueError as error:  # raised by a __post_init__ cross-field check
        raise UserError(f"{source}: {error}") from None
    return config


def to_dict(config: Any) -> dict:
    """The config as plain YAML-able data (tuples become lists)."""

    def plain(value):
        if isinstance(value, tuple):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def apply_overrides(data: dict, overrides: list[str], source: str = "--set") -> dict:
    """Applies `key.sub=value` strings to a raw config mapping (values parsed as YAML)."""
    for item in overrides or []:
        if "=" not in item:
            raise UserError(f"{source} {shown(item)}: expected KEY=VALUE, for example training.epochs=3.")
        dotted, raw = item.split("=", 1)
        keys = dotted.strip().split(".")
        try:
            value = parse_yaml(raw) if raw.strip() else ""
        except yaml.YAMLError as error:
            raise UserError(f"{source} {shown(item)}: the value is not valid YAML ({yaml_problem(error)}).") from None
        except RecursionError:
            raise UserError(f"{source} {shown(item)}: the value is nested too deeply.") from None
        node = data
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise UserError(f"{source} {shown(item)}: `{key}` is not a section.")
            node = child
        node[keys[-1]] = value
    return data


def load(cls: type[T], path: str | Path, overrides: list[str] | None = None) -> T:
    """Reads a YAML config file into dataclass `cls` (safe_load: no code runs)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected a YAML config file.")
    if not path.is_file():
        raise UserError(f"{path}: config file not found.")
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{path}: the config is not UTF-8 text.") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML: {yaml_problem(error)}") from None
    except RecursionError:
        raise UserError(f"{path}: the YAML is nested too deeply.") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: the config must be a YAML mapping of sections, got {type(data).__name__}.")
    data = apply_overrides(data, overrides or [])
    return from_dict(cls, data, source=str(path))


def save(config: Any, path: str | Path) -> None:
    """Writes a config as YAML (atomically)."""
    from seq2seq.outputs import atomic_write

    with atomic_write(path) as handle:
        yaml.safe_dump(to_dict(config), handle, sort_keys=False)


@dataclasses.dataclass(frozen=True)
class RNNConfig:
    """The shared recurrent core: every field is a keyword argument of
    :class:`seq2seq.core.recurrent.RecurrentStack`, passed to it whole.
    """

    cell: str = option("lstm", choices=CELLS, doc="recurrent cell: Elman (tanh/relu), LSTM or GRU")
    units: int = option(256, minimum=1, doc="hidden units per layer and direction")
    num_layers: int = option(1, minimum=1, maximum=100, doc="stacked recurrent layers")
    bidirectional: bool = option(False, doc="read both directions and concatenate (encoders only)")
    dropout: float = option(
        0.0, minimum=0.0, maximum=0.99, doc="dropout between stacked layers (no effect with one layer)"
    )
    activation: str = option("tanh", choices=ACTIVATIONS, doc="activation of the simple cell (lstm and gru use tanh)")
    residual: bool = option(False, doc="add each layer's input to its output (from the second layer on)")

    def __post_init__(self):
        if self.activation != "tanh" and self.cell != "simple":
            raise ValueError(
                f"key `activation` applies to cell: simple only; "
                f"{self.cell} uses tanh. Received: activation={self.activation!r}"
            )


GATES = {"simple": 1, "lstm": 4, "gru": 3}


def recurrent_weights(config, key: str = "") -> dict[str, int]:
    """The recurrent matrices' weight count of every :class:`RNNConfig` inside `config`, by key.

    A lower bound of each core's size: `gates x units x units` per layer and
    direction, the input matrices, biases, embeddings and output layer left
    out. A training run holds about four float32 copies of every weight
    (the weights, their gradients, Adam's two moments).
    """
    if isinstance(config, RNNConfig):
        directions = 2 if config.bidirectional else 1
        return {key: GATES[config.cell] * config.units * config.units * config.num_layers * directions}
    found = {}
    if dataclasses.is_dataclass(config):
        for field in dataclasses.fields(config):
            found.update(recurrent_weights(getattr(config, field.name), f"{key}.{field.name}".lstrip(".")))
    return found


def require_unidirectional(rnn: RNNConfig, key: str, reason: str) -> None:
    """Raises the config error for a core that must read left to right only."""
    if rnn.bidirectional:
        raise ValueError(f"key `{key}.bidirectional` must be false: {reason}.")


PRECISIONS = ("auto", "float32", "bfloat16", "float16")


@dataclasses.dataclass(frozen=True)
class OptimizationConfig:
    """Training keys shared by language models and translators."""

    @classmethod
    def upgrade_keys(cls, data: dict, source: str) -> dict:
        """`mixed_precision: true/false` (version 0.1) means bfloat16 / float32."""
        if isinstance(data.get("mixed_precision"), bool):
            data = {**data, "mixed_precision": "bfloat16" if data["mixed_precision"] else "float32"}
        return data

    epochs: int = option(10, minimum=1, doc="passes over the training data (the most; early stopping may end sooner)")
    steps_per_epoch: int | None = option(None, minimum=1)  # cap batches per epoch (null: all)
    optimizer: str = option(
        "adam", choices=("adam", "sgd"), doc="Adam, or plain SGD (language models: with learning-rate decay)"
    )
    learning_rate: float = option(1e-3, minimum=0.0, doc="the starting learning rate")
    clip_norm: float | None = option(1.0, minimum=0.0)  # global gradient-norm clipping (null: none)
    lr_decay_factor: float = option(0.5, minimum=0.0, maximum=1.0)  # 1.0: no decay
    lr_decay_patience: int = option(
        0, minimum=0, doc="epochs without improvement before the learning rate is multiplied by lr_decay_factor"
    )
    lr_decay_min_delta: float = option(0.0, minimum=0.0)  # validation-loss gain (nats) that counts as improving
    early_stopping_patience: int = option(3, minimum=1, doc="epochs without improvement before training stops")
    # auto: bfloat16 on CPUs with native bfloat16 matrix units and on GPUs with compute capability 8+,
    # float16 (with loss scaling) on older GPUs, float32 elsewhere; see seq2seq.training.resolve_precision.
    mixed_precision: str = option("auto", choices=PRECISIONS)
    distribute: str = option("none", choices=("none", "mirrored", "multi_worker", "tpu"))  # see seq2seq.distribute
    seed: int = option(
        1234,
        minimum=0,
        maximum=MAX_SEED,
        doc="seeds Python, NumPy and the backend; each epoch's shuffle is this seed and the epoch",
    )
    init_from: str | None = option(None)  # a model directory whose weights start a new run (same architecture)
    ema_momentum: float | None = option(None, minimum=0.0, maximum=0.99999)  # average the weights (null: off)
