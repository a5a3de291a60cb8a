"""Evaluating speech recognisers and image captioners: word error rate, BLEU, exact match, attention pictures.

`seq2seq perception evaluate --model DIR` rebuilds the model's test data
from its `config.yaml` (deterministic from the seed) and writes a report
folder (`seq2seq.evaluation.reports.write_report`): `report.json` (schema
`seq2seq-perception-report/1`), `report.md`, and for captioners `attention.png`.

- speech: word error rate (jiwer) of the held-out speaker's connected-digit
  utterances (`test`) and of each of their recordings alone (`single`),
  and of the other speakers' held-out recordings (`valid`), per speaker;
- captions: BLEU (sacrebleu) and exact match of the test scenes, every one
  with a held-out colour-shape pair, and of the validation scenes (seen pairs).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from seq2seq import __version__
from seq2seq.measures import corpus_bleu, word_error_rate
from seq2seq.model_dirs import load_perception_model, saved_config
from seq2seq.perception.config import PerceptionConfig
from seq2seq.perception.data import Examples, examples, speech_examples
from seq2seq.perception.recognizer import Recognizer

SCHEMA = "seq2seq-perception-report/1"


def score_set(outputs: list[str], split: Examples, task: str) -> dict:
    """The figures of one evaluated set: overall, and per group (speaker, or seen / held-out pairs)."""

    def figures(indices: list[int]) -> dict:
        hypotheses = [outputs[i] for i in indices]
        references = [split.transcripts[i] for i in indices]
        result = {
            "examples": len(indices),
            "wer": word_error_rate(hypotheses, references),
            "exact_match": 100.0 * float(np.mean([h == r for h, r in zip(hypotheses, references)])),
        }
        if task == "captions":
            result["bleu"] = corpus_bleu(hypotheses, references)
        return result

    groups = sorted(set(split.groups))
    scores = figures(list(range(len(outputs))))
    scores["groups"] = {group: figures([i for i, g in enumerate(split.groups) if g == group]) for group in groups}
    return scores


def attention_figure(model, vocab, images: list[np.ndarray], outputs: list[str]) -> bytes:
    """Each image with its caption's attention over the grid, word by word (the model re-reads its own output)."""
    from seq2seq.evaluation.figures import attention_on_images

    rows, columns = model.encoder.grid_shape
    grids, captions = [], []
    for image, caption in zip(images, outputs):
        ids = [vocab.bos_id] + vocab.encode(caption)
        _, weights = model(
            {"source_features": image[None].astype(np.float32), "target_inputs": np.asarray([ids], np.int32)},
            return_attention=True,
        )
        grids.append(np.asarray(weights)[0].reshape(len(ids), rows, columns))
        captions.append(caption.split() + ["<eos>"])
    return attention_on_images(images, grids, captions)


def evaluate_model(
    model_dir: str | Path, beam_size: int = 5, alpha: float = 0.0, batch_size: int = 64
) -> tuple[dict, dict[str, bytes]]:
    """`(report, figures)` of the model in `model_dir` on its test data (see the module doc)."""
    model, vocab = load_perception_model(model_dir)
    config = saved_config(model_dir, PerceptionConfig)
    task = config.data.task
    recognizer = Recognizer(model, vocab, beam_size=beam_size, alpha=alpha)
    sets = {"test": examples(config, "test"), "valid": examples(config, "valid")}
    if task == "speech":
        sets["single"] = speech_examples(config, "test", single=True)
    scores, samples, seconds, outputs_of = {}, [], 0.0, {}
    for name, split in sets.items():
        started = time.perf_counter()
        outputs = recognizer.decode(split.inputs, batch_size)
        seconds += time.perf_counter() - started
        outputs_of[name] = outputs
        scores[name] = score_set(outputs, split, task)
    test = sets["test"]
    samples = [
        {"reference": test.transcripts[i], "hypothesis": outputs_of["test"][i], "group": test.groups[i]}
        for i in range(min(8, len(test.transcripts)))
    ]
    figures = {}
    if task == "captions":
        figures["attention.png"] = attention_figure(model, vocab, test.inputs[:4], outputs_of["test"][:4])
    report = {
        "schema": SCHEMA,
        "toolkit": {"name": "seq2seq", "version": __version__},
        "task": task,
        "model": {"directory": str(model_dir), "parameters": int(model.count_params())},
        "decoding": {"beam": beam_size, "alpha": alpha},
        "data": {"seed": config.data.seed, **({"test_speaker": config.data.test_speaker} if task == "speech" else {})},
        "scores": scores,
        "samples": samples,
        "timing": {"seconds": seconds, "examples": sum(len(s.transcripts) for s in sets.values())},
        "figures": sorted(figures),
    }
    return report, figures


def markdown(report: dict) -> str:
    """The report for people: one table row per set and group."""
    lines = [
        f"# {report['task']} evaluation: {report['model']['directory']}",
        "",
        f"beam {report['decoding']['beam']}; {report['timing']['examples']} examples in "
        f"{report['timing']['seconds']:.1f} s",
        "",
        "| set | group | examples | WER % | exact match % | BLEU |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, scores in report["scores"].items():
        for group, figures in [("all", scores)] + list(scores["groups"].items()):
            bleu = f"{figures['bleu']:.2f}" if "bleu" in figures else ""
            lines.append(
                f"| {name} | {group} | {figures['examples']} | {figures['wer']:.2f} | "
                f"{figures['exact_match']:.1f} | {bleu} |"
            )
    lines += ["", "| reference | hypothesis |", "|---|---|"]
    lines += [f"| {sample['reference']} | {sample['hypothesis']} |" for sample in report["samples"]]
    lines += [f"\n![{name}]({name})" for name in report["figures"]]
    return "\n".join(lines) + "\n"
