"""seq2seq: recurrent language models and encoder-decoder translation on Keras 3.

The Python API (each name is imported on first use, so `import seq2seq` is quick):

- :class:`Translator` (`Translator.load(name_or_path, options)`, then
  `.translate(sentences)`: a :class:`Translation` per sentence, with its
  `text`, `score` and n-best :class:`Hypothesis` list);
- :class:`DecodingOptions`: beam, length limits, n-best, sampling, precision,
  the same options as the command line's;
- :class:`LanguageModel` (`LanguageModel.load(...)`, `.score(lines)`,
  `.perplexity(lines)`, `.generate(prompt)`);
- :class:`Recognizer` (`Recognizer.load("speech_digits").transcribe(wav_files)`,
  `Recognizer.load("captions_scenes").caption(image_files)`);
- :func:`installed_models`: the models a name finds (see :mod:`seq2seq.catalog`);
- :func:`use_numpy_backend`: a start in about 3 s instead of 10 for a few
  translations (call it before anything imports Keras; see :mod:`seq2seq.backends`).
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Translator": "seq2seq.translation.translator",
    "Translation": "seq2seq.translation.translator",
    "Hypothesis": "seq2seq.translation.translator",
    "DecodingOptions": "seq2seq.core.decoding",
    "LanguageModel": "seq2seq.lm.loaded",
    "Recognizer": "seq2seq.perception.recognizer",
    "UserError": "seq2seq.errors",
    "use_numpy_backend": "seq2seq.backends",
}
__all__ = [*_EXPORTS, "installed_models", "__version__"]


def installed_models() -> list[dict]:
    """The models on the search path: name, task, languages, size, headline score, path (`seq2seq models list`)."""
    from seq2seq.catalog import installed

    return installed()


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'seq2seq' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
