"""Run by tests/test_distribute.py: toy translation training under MirroredStrategy on two logical CPUs.

`python tests/distribute_run.py RUN_DIR`: splits the CPU into two logical
devices (before TensorFlow starts), trains the toy config of tests/helpers.py
for 2 epochs with `training.distribute: mirrored`, and prints one JSON line
with the replica count and the last epoch's logged loss and perplexity.
"""

import csv
import json
import sys
from pathlib import Path

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import toy_translation_config  # noqa: E402

from seq2seq.distribute import make_strategy  # noqa: E402
from seq2seq.translation.training import train_translation_model  # noqa: E402

run_dir = Path(sys.argv[1])
model_dir = train_translation_model(toy_translation_config(run_dir, epochs=2, distribute="mirrored"))
with open(run_dir / "history.csv", newline="") as handle:
    last = list(csv.DictReader(handle))[-1]
print(
    json.dumps(
        {
            "replicas": make_strategy("mirrored").num_replicas_in_sync,
            "loss": float(last["loss"]),
            "perplexity": float(last["perplexity"]),
            "val_bleu": float(last["val_bleu"]),
            "model": (model_dir / "model.keras").is_file(),
        }
    )
)
