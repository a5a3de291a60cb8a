"""The model code runs under JAX as under TensorFlow: same outputs from the same weights.

Layers and search use `keras.ops` only; this runs the forward pass, greedy
and beam search, one training step and language-model sampling in a JAX
subprocess (tests/backend_run.py) and compares them with TensorFlow's.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # trains and searches in two subprocesses, TensorFlow and JAX

SCRIPT = Path(__file__).with_name("backend_run.py")


def test_jax_gives_the_same_outputs_as_tensorflow(tmp_path):
    def run(backend: str, mode: str) -> dict:
        environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run(
            [sys.executable, str(SCRIPT), mode, str(tmp_path)], env=environment, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return dict(np.load(tmp_path / f"out_{backend}.npz"))

    tensorflow, jax = run("tensorflow", "save"), run("jax", "load")
    for key in ("logits", "beam_scores", "loss", "after"):
        np.testing.assert_allclose(jax[key], tensorflow[key], rtol=1e-4, atol=1e-5, err_msg=key)
    for key in ("greedy", "beam"):
        np.testing.assert_array_equal(jax[key], tensorflow[key], err_msg=key)
    for samples in (tensorflow["samples"], jax["samples"]):  # the same seed, the same samples (per backend)
        np.testing.assert_array_equal(samples[0], samples[1])
