"""The declared dependencies and the committed lock agree; the lock installs a complete environment."""

import importlib.metadata
import re
from pathlib import Path

from packaging.requirements import Requirement

LOCK = Path(__file__).parents[1] / "saved_models" / "requirements.lock"


def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if match:
            pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return pins


def test_the_lock_pins_every_declared_dependency_within_its_bounds():
    """A dependency added to pyproject.toml without `uv pip compile` (README, Development) fails here."""
    pins = locked()
    assert len(pins) > 50
    declared = [Requirement(text) for text in importlib.metadata.requires("seq2seq-rnn")]
    wrong = []
    for requirement in declared:
        extra = re.search(r'extra == "(\w+)"', str(requirement.marker)) if requirement.marker else None
        if extra and extra[1] not in ("test", "jax"):
            continue  # the lint tools are not part of a reproduced environment
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name not in pins:
            wrong.append(f"{name} is not in the lock")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            wrong.append(f"{name}=={pins[name]} does not satisfy {requirement.specifier}")
    assert not wrong, f"{LOCK.name} is out of date: " + "; ".join(wrong)


def test_the_lock_holds_the_versions_the_shipped_models_were_made_with():
    """The model cards' `host:` lines name TensorFlow 2.21.0 and Keras 3.15.1."""
    pins = locked()
    assert (pins["tensorflow"], pins["keras"]) == ("2.21.0", "3.15.1")
