"""The examples of a perception experiment, as arrays and as tf.data batches.

A split's examples are computed once and kept in memory (they are small:
FSDD is 2,500 short recordings, scenes are 64 x 64 pixels): for speech the
log-mel frames of each utterance, computed by `pipelines.features.log_mel`
in a tf.data map; for captions the drawn images. Training batches follow a
permutation drawn from `training.seed` and the epoch number, so epoch k
has the same order whether or not the run was interrupted before it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from pipelines import features as pipes
from seq2seq.core.vocabulary import Vocabulary
from seq2seq.perception import digits, scenes
from seq2seq.perception.config import SPEEDS, PerceptionConfig


@dataclasses.dataclass
class Examples:
    """One split: `inputs[i]` (frames or an image), `transcripts[i]`, `groups[i]` (speaker, or caption kind)."""

    inputs: list[np.ndarray]
    transcripts: list[str]
    groups: list[str]


def frames_of(
    waveforms, mel_bins: int, normalize_level: bool = False, trim_silence_db: float | None = None
) -> list[np.ndarray]:
    """Log-mel frames `(frames, mel_bins)` of each waveform (float32 1-D arrays), computed in one tf.data pipeline.

    `normalize_level`, `trim_silence_db`: see `pipelines.features.log_mel` (the `data.` keys of those names).
    """
    waveforms = list(waveforms)
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(waveforms), output_signature=tf.TensorSpec((None,), tf.float32)
    )
    return list(
        dataset.map(
            lambda samples: pipes.log_mel(
                samples, mel_bins, normalize_level=normalize_level, trim_silence_db=trim_silence_db
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        ).as_numpy_iterator()
    )


def speech_examples(config: PerceptionConfig, split: str, single: bool = False) -> Examples:
    """Connected-digit utterances of `split` (single digits with `single`: every test recording once)."""
    data = config.data
    found = digits.recordings(data.dir)
    count = getattr(data, f"{split}_examples")
    made = digits.utterances(
        found,
        split,
        None if single else count,
        data.test_speaker,
        data.max_digits,
        data.seed,
        single=single,
        valid_speaker=data.valid_speaker,
    )
    waveforms = (u.waveform() for u in made)
    if split == "train" and data.speed_perturbation:
        waveforms = perturbed_speeds(waveforms, data.seed, data.speeds)
    if split == "train" and (data.gain_db or data.noise_snr_db):
        waveforms = perturbed_levels(waveforms, data.seed, data.gain_db, data.noise_snr_db)
    return Examples(
        frames_of(waveforms, data.mel_bins, data.normalize_level, data.trim_silence_db),
        [u.transcript for u in made],
        [u.speaker for u in made],
    )


def perturbed_speeds(waveforms, seed: int, speeds=SPEEDS):
    """Each waveform played at a speed drawn uniformly from `speeds` (Ko et al. 2015), deterministic from `seed`.

    Resampling (`scipy.signal.resample_poly`) changes tempo and pitch
    together, as a faster or slower talker with a shorter or longer vocal
    tract would.
    """
    from scipy.signal import resample_poly

    tenths = [int(round(10 * speed)) for speed in speeds]
    rng = np.random.Generator(np.random.PCG64([seed, 11]))
    for waveform in waveforms:
        speed = tenths[int(rng.integers(len(tenths)))]
        yield waveform if speed == 10 else resample_poly(waveform, 10, speed).astype(np.float32)


def perturbed_levels(waveforms, seed: int, gain_db=(), noise_snr_db=()):
    """Each waveform at a gain drawn uniformly from the range `gain_db` (decibels), then with white noise at a
    signal-to-noise ratio drawn from `noise_snr_db` (decibels, against the waveform's mean power), both
    deterministic from `seed`; an empty range leaves that step out. Clipped to [-1, 1].
    """
    rng = np.random.Generator(np.random.PCG64([seed, 7919]))
    for waveform in waveforms:
        if gain_db:
            waveform = waveform * np.float32(10 ** (rng.uniform(*gain_db) / 20))
        if noise_snr_db:
            power = float(np.mean(np.square(waveform))) or 1e-10
            noise_power = power / 10 ** (rng.uniform(*noise_snr_db) / 10)
            waveform = waveform + rng.normal(0.0, np.sqrt(noise_power), len(waveform)).astype(np.float32)
        yield np.clip(waveform, -1.0, 1.0).astype(np.float32)


def scene_examples(config: PerceptionConfig, split: str) -> Examples:
    """Drawn scenes of `split`; `groups` says which held-out colour-shape pairs a test caption holds."""
    made = scenes.scenes(split, getattr(config.data, f"{split}_examples"), config.data.seed)
    groups = [
        "held-out" if {(t.color, t.shape) for t in (s.first, s.second)} & scenes.HELD_OUT else "seen" for s in made
    ]
    return Examples([scenes.draw(s) for s in made], [s.caption for s in made], groups)


def check_data(config: PerceptionConfig) -> None:
    """Raises `UserError` now, before any work, if the speech data are missing or the test speaker unknown."""
    if config.data.task == "speech":
        digits.split_recordings(
            digits.recordings(config.data.dir), "train", config.data.test_speaker, config.data.valid_speaker
        )


def examples(config: PerceptionConfig, split: str) -> Examples:
    return speech_examples(config, split) if config.data.task == "speech" else scene_examples(config, split)


def source_spec(config: PerceptionConfig) -> dict:
    """What the data fix about the encoder's input (see `translation.model.build_model`'s `source`)."""
    if config.data.task == "speech":
        return {"features": config.data.mel_bins}
    return {"image_size": scenes.SIZE, "channels": 3}


def build_vocabulary(transcripts: list[str]) -> Vocabulary:
    """The word vocabulary of the training transcripts."""
    return Vocabulary.build(transcripts, level="word")


def time_masked(frames: np.ndarray, rng: np.random.Generator, masks: int) -> np.ndarray:
    """`masks` time masks of SpecAugment (Park et al. 2019): up to 10 consecutive frames (and at most a tenth
    of the utterance) each set to 1e-6, the utterance mean after normalisation and never mistaken for padding."""
    frames = frames.copy()
    longest = max(1, min(10, len(frames) // 10))
    for _ in range(masks):
        width = int(rng.integers(0, longest + 1))
        start = int(rng.integers(0, len(frames) - width + 1))
        frames[start : start + width] = 1e-6
    return frames


def augment(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A training variant of one utterance's log-mel frames `(time, bins)`: another voice, some bins hidden.

    - Frequency warping, as vocal tract length perturbation does (Jaitly and
      Hinton 2013): the mel axis is stretched by a factor uniform in
      [0.85, 1.15] (linear interpolation, edges held), which moves formants
      the way a longer or shorter vocal tract does;
    - two frequency masks of SpecAugment (Park et al. 2019): up to 6
      consecutive bins each set to 0 (the utterance mean, after
      normalisation). No frame becomes all-zero, so padding stays recognisable.
    """
    bins = frames.shape[1]
    factor = rng.uniform(0.85, 1.15)
    source = np.clip(np.arange(bins) / factor, 0, bins - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, bins - 1)
    weight = (source - low).astype(np.float32)
    warped = frames[:, low] * (1 - weight) + frames[:, high] * weight
    for _ in range(2):
        width = int(rng.integers(0, 7))
        start = int(rng.integers(0, bins - width + 1))
        warped[:, start : start + width] = 0.0
    warped[np.all(warped == 0, axis=1)] = 1e-6  # never mistaken for padding
    return warped.astype(np.float32)


def batches(config: PerceptionConfig, split_examples: Examples, vocab: Vocabulary, epoch=None) -> tf.data.Dataset:
    """`({"source_features", "target_inputs"}, targets)` batches; shuffled per epoch when `epoch` is given.

    Args:
        epoch: a `tf.Variable` holding the epoch number (training), read
            when an epoch starts; None keeps the split's order (validation).
            With `training.augment`, training examples are augmented (see
            :func:`augment`) from the same epoch seed, so a resumed epoch
            sees the same variants.
    """
    training = config.training
    inputs = split_examples.inputs
    words = [np.asarray(vocab.encode(text), np.int32) for text in split_examples.transcripts]
    shape = (None,) * inputs[0].ndim if config.data.task == "speech" else inputs[0].shape
    dtype = tf.float32 if config.data.task == "speech" else tf.uint8

    def generate():
        order = np.arange(len(inputs))
        rng = None
        if epoch is not None:
            rng = np.random.Generator(np.random.PCG64([training.seed, int(epoch.numpy())]))
            order = rng.permutation(order)
        for index in order:
            example = inputs[index]
            if rng is not None and training.augment:
                example = augment(example, rng)
            if rng is not None and training.time_masks:
                example = time_masked(example, rng, training.time_masks)
            yield example, words[index]

    signature = (tf.TensorSpec(shape, dtype), tf.TensorSpec((None,), tf.int32))
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    dataset = dataset.apply(pipes.with_word_targets(vocab.bos_id, vocab.eos_id))
    batched = dataset.apply(pipes.padded_batches(training.batch_size))
    if epoch is not None and training.steps_per_epoch is not None:
        batched = batched.take(training.steps_per_epoch)
    return batched
