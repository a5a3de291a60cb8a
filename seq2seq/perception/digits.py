"""Connected-digit utterances built from the Free Spoken Digit Dataset, and reading WAV files.

FSDD (`../shared/data/fsdd`, CC BY-SA 4.0) holds 2,500 recordings of single
spoken digits, `recordings/{digit}_{speaker}_{index}.wav`: five speakers,
each digit 50 times (index 0-49), 8 kHz mono 16-bit. An utterance here is
one to seven recordings of one speaker joined with pauses, transcribed as
words ("three one four"):

- the speaker is uniform among the split's speakers, the number of digits
  uniform in 1..`max_digits`, each digit uniform in 0-9, the recording
  uniform among that speaker's recordings of that digit in the split;
  the pause before, between and after the digits is uniform in 50-250 ms of
  silence;
- splits: `test` uses only `test_speaker`'s recordings (held out entirely);
  `valid` uses indices 0-4 of the other speakers (FSDD's own test indices),
  `train` indices 5-49 of the other speakers; with a `valid_speaker`,
  `valid` uses all of that speaker's recordings instead and `train` every
  recording of the remaining speakers, so that choices made on validation
  are made on a voice training never heard (leave-one-speaker-out);
- everything is deterministic from `(split, seed)` (numpy PCG64), so every
  machine builds the same utterances.
"""

from __future__ import annotations

import dataclasses
import functools
import wave
import zlib
from pathlib import Path

import numpy as np

from seq2seq.errors import UserError

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SAMPLE_RATE = 8000


@dataclasses.dataclass(frozen=True)
class Recording:
    digit: int
    speaker: str
    index: int
    path: Path


def recordings(folder: str | Path) -> list[Recording]:
    """The FSDD recordings in `folder` (the dataset folder, or its `recordings/`), sorted by name."""
    folder = Path(folder)
    if (folder / "recordings").is_dir():
        folder = folder / "recordings"
    found = []
    for path in sorted(folder.glob("*.wav")):
        parts = path.stem.split("_")
        if len(parts) == 3 and parts[0].isdigit() and parts[2].isdigit():
            found.append(Recording(int(parts[0]), parts[1], int(parts[2]), path))
    if not found:
        raise UserError(
            f"{folder}: no FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav) found; set data.dir "
            "to the Free Spoken Digit Dataset folder (../shared/data/fsdd)."
        )
    return found


def split_recordings(
    found: list[Recording], split: str, test_speaker: str, valid_speaker: str | None = None
) -> list[Recording]:
    """The recordings an utterance of `split` may use (see the module doc)."""
    speakers = {recording.speaker for recording in found}
    for key, speaker in (("test_speaker", test_speaker), ("valid_speaker", valid_speaker)):
        if speaker is not None and speaker not in speakers:
            raise UserError(f"data.{key}={speaker!r} is not an FSDD speaker here; choose one of {sorted(speakers)}.")
    if split == "test":
        return [r for r in found if r.speaker == test_speaker]
    if valid_speaker is not None:
        if split == "valid":
            return [r for r in found if r.speaker == valid_speaker]
        return [r for r in found if r.speaker not in (test_speaker, valid_speaker)]
    valid = split == "valid"
    return [r for r in found if r.speaker != test_speaker and (r.index < 5) == valid]


@dataclasses.dataclass(frozen=True)
class Utterance:
    parts: tuple[Recording, ...]
    pauses: tuple[int, ...]  # samples of silence before, between and after the digits (len(parts) + 1)

    @property
    def transcript(self) -> str:
        return " ".join(DIGIT_WORDS[part.digit] for part in self.parts)

    @property
    def speaker(self) -> str:
        return self.parts[0].speaker

    def waveform(self) -> np.ndarray:
        """float32 samples in [-1, 1]: pause, digit, pause, ..., digit, pause."""
        pieces = [np.zeros(self.pauses[0], np.float32)]
        for part, pause in zip(self.parts, self.pauses[1:]):
            pieces += [_recording(part.path), np.zeros(pause, np.float32)]
        return np.concatenate(pieces)


def utterances(
    found: list[Recording],
    split: str,
    count: int | None,
    test_speaker: str,
    max_digits: int = 7,
    seed: int = 0,
    single: bool = False,
    valid_speaker: str | None = None,
) -> list[Utterance]:
    """`count` utterances of `split`; `single=True` gives one digit each.

    With `single` and `count` None, every recording of the split once, in
    name order, each with its own pauses drawn as for any utterance.
    """
    pool = split_recordings(found, split, test_speaker, valid_speaker)
    rng = np.random.Generator(np.random.PCG64([seed, zlib.crc32(f"{split}/{single}".encode())]))

    def pauses(length: int) -> tuple[int, ...]:
        return tuple(int(p) for p in rng.integers(SAMPLE_RATE // 20, SAMPLE_RATE // 4 + 1, size=length + 1))

    if single and count is None:
        return [Utterance((recording,), pauses(1)) for recording in pool]
    speakers = sorted({r.speaker for r in pool})
    by_digit = {
        (speaker, digit): [r for r in pool if (r.speaker, r.digit) == (speaker, digit)]
        for speaker in speakers
        for digit in range(10)
    }
    made = []
    for _ in range(count):
        speaker = speakers[int(rng.integers(len(speakers)))]
        length = 1 if single else int(rng.integers(1, max_digits + 1))
        choices = [by_digit[speaker, int(digit)] for digit in rng.integers(0, 10, size=length)]
        parts = tuple(choice[int(rng.integers(len(choice)))] for choice in choices)
        made.append(Utterance(parts, pauses(length)))
    return made


@functools.cache
def _recording(path: Path) -> np.ndarray:
    """An FSDD recording's samples, read once per process (utterances reuse each recording many times)."""
    return read_wav(path)


MIN_RATE, MAX_RATE = 4_000, 192_000  # Hz a WAV header may give (a header of 1 Hz would resample for minutes)


def read_wav(path: str | Path, on_resample=None) -> np.ndarray:
    """A WAV file as float32 mono samples at 8 kHz, or `UserError` saying what is wrong with it.

    Accepted: RIFF/WAVE, 16-bit PCM, any channel count (averaged to mono),
    any sample rate (resampled to 8 kHz with `scipy.signal.resample_poly`;
    `on_resample(rate)` is called first, if given, to say so).
    Refused with a message: not a RIFF/WAVE file, another sample format,
    a sample rate outside `MIN_RATE`..`MAX_RATE`, no samples, a data chunk
    shorter than its header says.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
        if not head:
            raise UserError(f"{path}: the file is empty.")
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise UserError(f"{path}: not a WAV file (no RIFF/WAVE header).")
        with wave.open(str(path), "rb") as reader:
            width, channels, rate, frames = (
                reader.getsampwidth(),
                reader.getnchannels(),
                reader.getframerate(),
                reader.getnframes(),
            )
            if not MIN_RATE <= rate <= MAX_RATE:
                raise UserError(
                    f"{path}: the header gives a sample rate of {rate} Hz; expected {MIN_RATE} to {MAX_RATE} Hz."
                )
            data = reader.readframes(frames)
    except OSError as error:
        raise UserError(f"{path}: cannot read the file ({error.strerror or error}).") from None
    except (wave.Error, EOFError) as error:
        raise UserError(f"{path}: not a readable WAV file ({error}); expected 16-bit PCM.") from None
    if width != 2:
        raise UserError(
            f"{path}: {8 * width}-bit samples; expected 16-bit PCM (convert with `sox IN.wav -b 16 OUT.wav`)."
        )
    if frames == 0:
        raise UserError(f"{path}: the WAV file holds no samples.")
    if len(data) < frames * channels * width:
        raise UserError(
            f"{path}: truncated: the header announces {frames} frames, the file holds "
            f"{len(data) // (channels * width)}."
        )
    samples = np.frombuffer(data, "<i2").astype(np.float32).reshape(-1, channels).mean(axis=1) / 32768.0
    if rate != SAMPLE_RATE:
        if on_resample is not None:
            on_resample(rate)
        from scipy.signal import resample_poly

        divisor = np.gcd(rate, SAMPLE_RATE)
        samples = resample_poly(samples, SAMPLE_RATE // divisor, rate // divisor).astype(np.float32)
    return samples
