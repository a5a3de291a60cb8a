"""Feature-input pipelines: log-mel frames computed with `tf.signal`, and padded (features, words) batches.

Speech recognition and image captioning feed the encoder-decoder with
float features instead of token ids; these steps turn waveforms into
frames and pair any features with word-level targets in the model's input
layout (`{"source_features", "target_inputs"}`, targets).
"""

from __future__ import annotations

import tensorflow as tf

SAMPLE_RATE = 8000  # Hz; the speech models read 8 kHz audio (FSDD's rate)
FRAME_SECONDS, HOP_SECONDS, FFT_LENGTH = 0.025, 0.010, 256


def log_mel(
    samples,
    mel_bins: int = 40,
    sample_rate: int = SAMPLE_RATE,
    normalize_level: bool = False,
    trim_silence_db: float | None = None,
):
    """`(frames, mel_bins)` float32 log-mel energies of a 1-D float waveform, normalised per utterance.

    25 ms Hann windows every 10 ms, a 256-point FFT, `mel_bins` triangular
    filters from 20 Hz to the Nyquist frequency, log(energy + 1e-6), then
    each bin shifted and scaled to mean 0 and variance 1 over the utterance
    (cepstral mean and variance normalisation, which removes much of a
    speaker's and a microphone's colouring). Exact zeros are replaced by
    1e-6 so that an all-zero frame always means padding (see
    :class:`~seq2seq.models.encoders.AudioEncoder`). A waveform shorter
    than one window is padded to one window first.

    With `normalize_level`, the waveform is first scaled to a peak amplitude
    of 1 (an all-zero one stays zero), so the frames do not depend on the
    recording level: without it, the fixed 1e-6 floor sits closer to a quiet
    recording's speech than to a loud one's, and its quietest bins look
    different after normalisation. `data.normalize_level` sets it.

    With `trim_silence_db`, the frames before the first and after the last
    frame whose energy is within that many decibels of the utterance's
    loudest frame are dropped before the normalisation (`data.trim_silence_db`):
    leading and trailing silence or hum then neither shifts the mean and
    variance nor reaches the model, however quiet the speech is (the threshold
    is relative to the utterance itself). An all-silent utterance keeps every frame.
    """
    samples = tf.convert_to_tensor(samples, tf.float32)
    if normalize_level:
        peak = tf.reduce_max(tf.abs(samples))
        samples = tf.math.divide_no_nan(samples, peak)
    frame_length = int(round(FRAME_SECONDS * sample_rate))
    samples = tf.pad(samples, [[0, tf.maximum(0, frame_length - tf.size(samples))]])
    spectrum = tf.signal.stft(samples, frame_length, int(round(HOP_SECONDS * sample_rate)), FFT_LENGTH, pad_end=True)
    power = tf.math.square(tf.abs(spectrum))
    filters = tf.signal.linear_to_mel_weight_matrix(mel_bins, FFT_LENGTH // 2 + 1, sample_rate, 20.0, sample_rate / 2)
    energies = tf.math.log(tf.tensordot(power, filters, 1) + 1e-6)
    if trim_silence_db is not None:
        frame_power = tf.reduce_sum(power, axis=-1)  # (frames,)
        loud = tf.where(frame_power >= tf.reduce_max(frame_power) * 10.0 ** (-trim_silence_db / 10.0))[:, 0]
        energies = energies[loud[0] : loud[-1] + 1]  # the loudest frame is always among them
    mean, variance = tf.nn.moments(energies, axes=[0])
    normalised = (energies - mean) / tf.sqrt(variance + 1e-5)
    return tf.where(tf.equal(normalised, 0.0), 1e-6, normalised)


def with_word_targets(bos_id: int, eos_id: int):
    """`(features, word_ids)` -> `({"source_features", "target_inputs"}, targets)`, as translation's pairs."""
    bos = tf.constant([bos_id], tf.int32)
    eos = tf.constant([eos_id], tf.int32)
    return lambda dataset: dataset.map(
        lambda features, words: (
            {"source_features": features, "target_inputs": tf.concat([bos, words], 0)},
            tf.concat([words, eos], 0),
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def padded_batches(batch_size: int):
    """Batches padded with zeros (all-zero frames, `<pad>` ids) to the longest example of each batch."""
    return lambda dataset: dataset.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)
