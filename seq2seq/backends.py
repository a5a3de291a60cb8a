"""Choosing Keras's NumPy backend for a quick start: translating a few sentences without TensorFlow.

TensorFlow takes 4 to 10 s to import; Keras's NumPy backend about 1.5 s, and
the models run on it with the same results (float32), about 4 times slower
a sentence in bulk. :func:`use_numpy_backend` must run before anything
imports Keras; `seq2seq translate` calls it for short inputs.
"""

from __future__ import annotations

import os
import sys

# Keras asks whether TensorFlow is importable when it serializes a layer, which imports it (5 s or more), and
# imports matplotlib's pyplot for its image gallery when it can (0.5 s); a process on the NumPy backend uses
# neither, so they are made unimportable (a None in sys.modules, Python's documented rule), which Keras handles.
UNUSED_ON_NUMPY = ("tensorflow", "matplotlib.pyplot")


def use_numpy_backend() -> None:
    """Makes this process run Keras on NumPy (see the module doc); raises `RuntimeError` once Keras is imported.

    Nothing that needs TensorFlow (training, `export`, `serve`, the tf.data
    pipelines) can run in the process afterwards.
    """
    if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != "numpy":
        raise RuntimeError("use_numpy_backend() must run before Keras is imported; Keras already runs here.")
    os.environ["KERAS_BACKEND"] = "numpy"
    for name in UNUSED_ON_NUMPY:
        if name not in sys.modules:
            sys.modules[name] = None
