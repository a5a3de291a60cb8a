"""The layout shows the architecture: imports point one way, modules are short and documented.

`LAYERS` lists the layers, lowest first. A module may import the layers
below its own; within its layer, only the members of a layer of mutual
modules (the training machinery, the lowest modules) import each other; the
members of any other layer (the tasks lm and translation; config and models;
core and pipelines) never import each other. Every package and module is on
exactly one layer. Importing the package root `seq2seq` (for its version)
is not counted.

Imports under `if TYPE_CHECKING:` are type hints, not dependencies, and are not counted.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
MODULES = sorted(path for folder in ("seq2seq", "pipelines", "bench") for path in (ROOT / folder).rglob("*.py"))
LAYERS = (  # (members, whether they may import each other), lowest first
    (("seq2seq.errors",), False),
    (
        ("seq2seq.textio", "seq2seq.outputs", "seq2seq.history", "seq2seq.documents", "seq2seq.compat")
        + ("seq2seq.measures", "seq2seq.backends"),
        True,
    ),
    (("seq2seq.core", "pipelines"), False),  # the shared model pieces; tf.data steps
    (("seq2seq.config", "seq2seq.models"), False),  # typed configs; the models (which know no config)
    (
        ("seq2seq.model_dirs", "seq2seq.catalog", "seq2seq.weight_layouts", "seq2seq.training", "seq2seq.run_folder")
        + ("seq2seq.callbacks", "seq2seq.backup", "seq2seq.distribute"),
        True,
    ),
    (("seq2seq.runner",), False),  # the one training loop
    (("seq2seq.lm", "seq2seq.translation"), False),  # the tasks
    (("seq2seq.perception",), False),  # speech and captions, with translation's model config
    (("seq2seq.evaluation",), False),  # scores and reports
    (("seq2seq.cli",), False),  # the command line
    (("seq2seq.__main__",), False),
)


def layer_of(name: str) -> tuple[int, str]:
    """`(layer number, member)` of a module name."""
    for number, (members, _) in enumerate(LAYERS):
        for member in members:
            if starts(name, member):
                return number, member
    raise AssertionError(f"{name} is on no layer of tests/test_layout.py's LAYERS; add it where it belongs")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Modules imported anywhere in the file (functions included), except under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and getattr(branch.test, "id", None) == "TYPE_CHECKING"
        for node in ast.walk(branch)
    }
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def starts(name: str, prefix: str) -> bool:
    return name == prefix.rstrip(".") or name.startswith(prefix if prefix.endswith(".") else prefix + ".")


@pytest.mark.parametrize(
    "path", [p for p in MODULES if not p.is_relative_to(ROOT / "bench")], ids=lambda p: str(p.relative_to(ROOT))
)
def test_imports_point_one_way(path):
    name = module_name(path)
    if name == "seq2seq":
        return  # the package root: its version and the public API (imported on first use)
    own, member = layer_of(name)
    imported = {module for module in imported_modules(path) if starts(module, "seq2seq") or starts(module, "pipelines")}
    known = {module_name(path) for path in MODULES}
    for module in imported:
        while module not in known and "." in module:  # `from a.b import name`: the module a.b
            module = module.rsplit(".", 1)[0]
        if module in ("seq2seq", "pipelines"):
            continue
        number, other = layer_of(module)
        mutual = LAYERS[own][1]
        assert number < own or other == member or (number == own and mutual), (
            f"{name} (layer {own}, {member}) must not import {module} (layer {number}, {other})"
        )


def test_every_module_is_on_one_layer():
    members = [member for layer, _ in LAYERS for member in layer]
    assert len(members) == len(set(members))
    for path in MODULES:
        if not path.is_relative_to(ROOT / "bench") and module_name(path) != "seq2seq":
            layer_of(module_name(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_are_short_and_say_what_they_hold(path):
    text = path.read_text(encoding="utf-8")
    # About 300 lines of code as written before `ruff format` (one argument a line where a call does not fit
    # 120 columns) made them about a tenth longer: 320 then, 360 formatted.
    assert len(text.splitlines()) <= 360, f"{path.name}: {len(text.splitlines())} lines; split it by concept"
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring and len(docstring) > 20, f"{path.name} needs a module docstring saying what it holds"


COMPAT = (ROOT / "seq2seq" / "compat.py", ROOT / "tests" / "test_compat.py")
PRIVATE_MODULES = ("keras.src", "tensorflow.python", "keras._tf_keras")
# Private names that Keras defines and so do we (seq2seq.cli._run, seq2seq.core.searcher._gather, the
# configs' `_config` and the LM trainer's `_step`), used on our own objects only.
OWN_NAMES = {"_config", "_gather", "_run", "_step"}


def private_names_defined(files) -> set[str]:
    """`_name`s that `files` define: methods, functions, and attributes assigned as `obj._name = ...`."""
    pattern = re.compile(
        r"^\s*(?:async\s+)?def\s+(_[A-Za-z0-9]\w*)|\.(_[A-Za-z0-9]\w*)\s*(?::[^=\n]*)?[-+*/|&]?=(?!=)", re.M
    )
    names = set()
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        names.update(definition or attribute for definition, attribute in pattern.findall(text))
    return {name for name in names if not name.startswith("__")}


def test_private_keras_and_tensorflow_are_used_only_in_the_compat_module():
    """No `keras.src` import and no underscored Keras attribute outside seq2seq/compat.py (and its test).

    An underscored attribute counts as Keras' when Keras' own source defines
    it (a method, a function or an assigned attribute), except for the names
    in OWN_NAMES, which this project's modules define for themselves too.
    """
    import keras

    ours = [
        path
        for folder in ("seq2seq", "pipelines", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if path not in COMPAT
    ]
    keras_names = private_names_defined(Path(keras.__file__).parent.rglob("*.py")) - OWN_NAMES
    assert "_flatten_layers" in keras_names  # the scan sees Keras' source
    found = []
    for path in ours:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {module}"
                for module in modules
                if any(starts(module, prefix) for prefix in PRIVATE_MODULES)
            ]
            if isinstance(node, ast.Attribute) and node.attr in keras_names:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses .{node.attr}")
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in keras_names:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} overrides {node.name}")
    assert not found, "private Keras/TensorFlow outside seq2seq/compat.py: " + "; ".join(found)


def test_the_architecture_page_names_every_package_and_module():
    layout = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for path in MODULES:
        if path.is_relative_to(ROOT / "seq2seq") and path.name != "__main__.py":
            shown = path.parent.name + "/" if path.name == "__init__.py" else path.name
            assert shown in layout, f"docs/architecture.md does not show {path.relative_to(ROOT)}"


def test_the_wheel_lists_every_package_and_carries_the_default_model():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    packages = {
        module_name(path) for path in MODULES if path.name == "__init__.py" and not path.is_relative_to(ROOT / "bench")
    }
    from seq2seq.catalog import DEFAULT_TRANSLATION_MODEL

    shipped = f"seq2seq.saved_models.{DEFAULT_TRANSLATION_MODEL}"
    assert set(setuptools["packages"]) == packages | {shipped}
    assert setuptools["package-dir"] == {shipped: f"saved_models/{DEFAULT_TRANSLATION_MODEL}"}
    assert setuptools["package-data"][shipped] == ["*"]
