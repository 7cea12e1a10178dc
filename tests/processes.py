"""Signals sent to a real `stylecam` process, as a terminal, systemd or docker would send them."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent


def interrupt_when(args: list[str], ready: Callable[[], bool], signals: list[int], wait_s: float = 120,
                   gap_s: float = 0.02) -> tuple[int, str]:
    """Run `stylecam ARGS`, wait until ready() (the work has begun), send each signal in turn and return
    (exit code, stderr). A process that outlives its test is killed."""
    proc = subprocess.Popen([sys.executable, "-m", "stylecam.pipeline.app.cli", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + wait_s
        while time.time() < deadline and proc.poll() is None and not ready():
            time.sleep(0.05)
        assert ready(), "the work never started"
        for i, signum in enumerate(signals):
            if i:
                time.sleep(gap_s)
            proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return proc.returncode, err
