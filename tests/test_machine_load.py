"""The busy-machine check of timed figures (pipeline/machine_load.py), against real processes that load the CPU."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from stylecam.pipeline import machine_load
from stylecam.pipeline.machine_load import BUSY_SHARE, OtherLoad, busy_note

SPIN = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass\n"


@pytest.mark.skipif(not machine_load.PROC_STAT.exists(), reason="the kernel's CPU counters are Linux's /proc/stat")
def test_other_processes_are_seen():
    """While k other processes spin and this one sleeps, they took about k of the machine's cores."""
    cores = os.cpu_count() or 1
    k = min(2, cores)
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(k)]
    try:
        time.sleep(0.5)  # the interpreters are up and spinning
        with OtherLoad() as load:
            time.sleep(1.5)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert load.share is not None and load.share >= 0.5 * k / cores
    assert load.busy == (load.share > BUSY_SHARE)


def test_no_counters_means_unknown(monkeypatch, tmp_path):
    """Where the kernel does not say (no /proc/stat), the share is unknown, not zero, and nothing is flagged."""
    monkeypatch.setattr(machine_load, "PROC_STAT", tmp_path / "no-such-file")
    with OtherLoad() as load:
        time.sleep(0.05)
    assert load.share is None and not load.busy and busy_note(load.share) == ""


def test_busy_note_words():
    assert busy_note(0.1) == ""
    assert busy_note(0.6) == "busy machine: other processes used 60% of the CPU"


def test_cpu_model_names_the_model_family_and_number(tmp_path):
    """pipeline/cpu_model.py on /proc/cpuinfo text as two of this project's machines have it, on this machine's own,
    and where there is none."""
    from stylecam.pipeline.cpu_model import cpu_model

    info = tmp_path / "cpuinfo"
    core = "processor\t: {n}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n"
    info.write_text(core.format(n=0) + "\n" + core.format(n=1).replace("9R14", "other"))
    assert cpu_model(info) == "AMD EPYC 9R14 96-Core Processor, family 25 model 17"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC\n")
    assert cpu_model(info) == "AMD EPYC"
    assert cpu_model(tmp_path / "none")  # another system: the platform's words, never empty
    assert cpu_model()
