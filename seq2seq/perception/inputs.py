"""Reading a perception model's inputs from files: WAV recordings into log-mel frames, images into pixels."""

from __future__ import annotations

import sys

from seq2seq.errors import UserError

MAX_PIXELS = 4096 * 4096  # an image above this is refused before it is decoded
# A recording longer than the model's longest training utterance at this many seconds a digit (a spoken digit
# and its pause last under a second and a half in the FSDD) is transcribed with a warning.
SECONDS_PER_DIGIT = 1.5


def stderr_note(text: str) -> None:
    print(text, file=sys.stderr)


def read_recording(path: str, encoder, config, note=stderr_note):
    """The log-mel frames of a WAV file, computed as the model's training computed them (`config`: its
    PerceptionConfig, or None for the defaults); `note` receives notes and warnings."""
    import numpy as np

    from pipelines.features import log_mel
    from seq2seq.perception.digits import SAMPLE_RATE, read_wav
    from seq2seq.perception.recognizer import MAX_WORDS

    samples = read_wav(path, lambda rate: note(f"note: {path}: {rate} Hz, resampled to 8000 Hz"))
    digits = config.data.max_digits if config is not None else 7
    longest = digits * SECONDS_PER_DIGIT
    if len(samples) / SAMPLE_RATE > longest:
        note(
            f"warning: {path}: {len(samples) / SAMPLE_RATE:,.1f} s long; the model learned utterances of at most "
            f"{digits} digits (about {longest:.0f} s) and writes at most {MAX_WORDS} words: cut long recordings "
            "into utterances first"
        )
    level = config is not None and config.data.normalize_level
    trim = config.data.trim_silence_db if config is not None else None
    return np.asarray(log_mel(samples, encoder.features, normalize_level=level, trim_silence_db=trim))


def read_image(path: str, encoder, config=None, note=stderr_note):
    """The RGB pixels of an image file at the model's size (resized with a note); refused above MAX_PIXELS."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    size = encoder.image_size
    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise UserError(
                    f"{path}: {width}x{height} pixels; at most {MAX_PIXELS:,} pixels are read (scale it down first)."
                )
            picture = image.convert("RGB")
    except FileNotFoundError:
        raise UserError(f"{path}: file not found.") from None
    except Image.DecompressionBombError:  # Pillow's own limit, far above ours, refuses at open
        raise UserError(
            f"{path}: declares more pixels than Pillow decodes; at most {MAX_PIXELS:,} pixels are read "
            "(scale it down first)."
        ) from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UserError(f"{path}: not a readable image ({error}).") from None
    if picture.size != (size, size):
        note(f"note: {path}: {picture.size[0]}x{picture.size[1]} pixels, resized to {size}x{size}")
        picture = picture.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(picture, dtype=np.uint8)
