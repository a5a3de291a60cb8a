"""Run by tests/test_distribute.py: one worker of a two-process `MultiWorkerMirroredStrategy` run on localhost.

`python tests/multi_worker_run.py INDEX PORT RUN_DIR EPOCHS`: sets `TF_CONFIG`
for two workers at `localhost:PORT` and `localhost:PORT+1` (this one is
worker INDEX), trains the toy config of tests/helpers.py with
`training.distribute: multi_worker` up to EPOCHS (resuming what the run
folder holds), and prints one JSON line with the replica count.
"""

import json
import os
import sys
from pathlib import Path

index, port, run_dir, epochs = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
os.environ["TF_CONFIG"] = json.dumps(
    {"cluster": {"worker": [f"localhost:{port}", f"localhost:{port + 1}"]}, "task": {"type": "worker", "index": index}}
)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import toy_translation_config  # noqa: E402

from seq2seq.translation.training import train_translation_model  # noqa: E402

train_translation_model(toy_translation_config(run_dir, epochs=epochs, distribute="multi_worker"))
print(json.dumps({"worker": index, "done": True}))
