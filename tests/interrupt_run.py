"""Run by tests/test_hostile_limits.py: a command that signals itself while its compiled search runs.

`python tests/interrupt_run.py SIGNAL SECONDS STAMP ARGV...` runs `seq2seq ARGV...`; SECONDS after the
command's first `Searcher.search` begins, a thread sends the process SIGNAL (INT or TERM) and writes the time
it did so to the file STAMP. Python runs a signal handler only in the main thread, between bytecodes: the
command ends soon after the signal only if its search returns to Python often.
"""

import os
import signal
import sys
import threading
import time
from pathlib import Path

from seq2seq.cli import main
from seq2seq.core.searcher import Searcher

SIGNAL, SECONDS, STAMP, ARGV = getattr(signal, f"SIG{sys.argv[1]}"), float(sys.argv[2]), sys.argv[3], sys.argv[4:]
original = Searcher.search


def fire():
    Path(STAMP).write_text(repr(time.monotonic()))
    os.kill(os.getpid(), SIGNAL)


def search(self, inputs):
    if not Path(STAMP).exists():
        timer = threading.Timer(SECONDS, fire)
        timer.daemon = True
        timer.start()
    return original(self, inputs)


Searcher.search = search
status = main(ARGV)
Path(STAMP + ".ended").write_text(repr(time.monotonic()))
sys.exit(status)
