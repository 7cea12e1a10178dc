"""scripts/rebuild_zoo.sh's control flow: which run starts from which network.

The real stages train for hours, so here the script's python is a stand-in that logs each call and creates
the files the call would write (a test double: no training can run in the suite). What is checked is the
script's own logic: every round starts from the round before (or its mean), each painting's temporal
fine-tune and its blend start from its last round, and nothing runs twice.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["starry_night", "the_scream", "great_wave", "composition_vii", "udnie", "shipwreck_of_the_minotaur",
         "night_cafe", "wheat_field"]

SHIM = textwrap.dedent("""\
    #!{python}
    import os, shlex, sys
    args = sys.argv[1:]
    with open(os.environ["SHIM_LOG"], "a") as log:
        log.write(shlex.join(args) + "\\n")
    def opt(name):
        return args[len(args) - 1 - args[::-1].index(name) + 1]  # the last occurrence wins, as in click
    if "train" in args:
        folder = opt("--save-model-dir")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, opt("--style-name") + ".safetensors"), "w") as out:
            out.write(folder)  # which run made it, for the copies the script makes of it
        open(os.path.join(folder, "train_log.csv"), "w").close()
    elif "blend" in args:
        open(opt("-o"), "w").close()
    elif "save_members" in args[1]:
        os.makedirs(args[-1], exist_ok=True)
        for name in {names!r}:
            open(os.path.join(args[-1], name + ".safetensors"), "w").close()
    """)


def dry_run(tmp_path: Path, *stages: str, env: dict[str, str] | None = None,
            made: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """Run the script's STAGES with the stand-in python; MADE: files under $WORK that earlier stages made."""
    root = tmp_path / "root"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "rebuild_zoo.sh", root / "scripts")
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(SHIM.format(python=sys.executable, names=NAMES))
    python.chmod(0o755)
    work = tmp_path / "work"
    (work / "train_content").mkdir(parents=True)
    (work / "vgg16_hed.safetensors").touch()
    for file in made:
        (work / file).parent.mkdir(parents=True, exist_ok=True)
        (work / file).touch()
    base = tmp_path / "base.safetensors"
    base.touch()
    log = tmp_path / "calls"
    run_env = {**os.environ, "WORK": str(work), "SHIM_LOG": str(log), **(env or {})}
    done = subprocess.run(["bash", str(root / "scripts" / "rebuild_zoo.sh"), str(base), *stages],
                          env=run_env, capture_output=True, text=True, timeout=300)
    calls = [shlex.split(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def last(args: list[str], name: str) -> str:
    return args[len(args) - 1 - args[::-1].index(name) + 1]


def test_every_run_starts_from_the_round_before_and_the_temporal_ones_from_the_last(tmp_path: Path) -> None:
    done, calls = dry_run(tmp_path, "all")
    assert done.returncode == 0, done.stderr
    work = str(tmp_path / "work")
    trains = [c for c in calls if "train" in c]
    half = [c for c in trains if "--arch" not in c and "--member-names" not in c]  # one painting, half width
    for name in NAMES:
        rounds = [c for c in half if last(c, "--style-name") == f"{name}-plain"]
        tw = [c for c in half if last(c, "--style-name") in (f"{name}-tw1000", f"{name}-tw500")]
        assert rounds, name
        # round 1 from the shared network's member, each later one from the round before it (or that round's mean)
        assert last(rounds[0], "--init") == f"{work}/plain/{name}.safetensors"
        for before, after in zip(rounds, rounds[1:]):
            folder = last(before, "--save-model-dir")
            assert last(after, "--init") in (f"{folder}/{name}-plain.safetensors", f"{folder}/{name}-plain-mean.safetensors")
        # one temporal fine-tune (and its longer continuation), from the last round's network
        last_folder = last(rounds[-1], "--save-model-dir")
        plain = {f"{last_folder}/{name}-plain.safetensors", f"{last_folder}/{name}-plain-mean.safetensors"}
        assert 1 <= len(tw) <= 2 and last(tw[0], "--init") in plain, name
        assert all(calls.index(r) < calls.index(tw[0]) for r in rounds), f"{name}: a round ran after its temporal fine-tune"
        # NAME blends that fine-tune with the same last-round network, which is also what ships as NAME-plain;
        # shipwreck_of_the_minotaur's NAME is the fine-tune alone (TW_SHARE 1), a copy of it
        blends = [c for c in calls if "blend" in c and last(c, "-o") == f"{work}/zoo/{name}.safetensors"]
        if name == "shipwreck_of_the_minotaur":
            copied = (tmp_path / "work" / "zoo" / f"{name}.safetensors").read_text()
            assert not blends and copied == last(tw[-1], "--save-model-dir"), name
            continue
        parts = [p.rsplit(":", 1)[0] for p in blends[0][blends[0].index("blend") + 1:blends[0].index("-o")]]
        assert parts[0].startswith(last(tw[-1], "--save-model-dir")) and parts[1] in plain, name
    assert len(trains) == len({last(c, "--save-model-dir") for c in trains}), "a run was made twice"
    # NAME-fast blends its fast fine-tune and plain network; the_scream's gives its residual blocks wholly to the fine-tune
    fast = {name: next(c for c in calls if "blend" in c and last(c, "-o") == f"{work}/zoo/{name}-fast.safetensors")
            for name in NAMES if name != "shipwreck_of_the_minotaur"}  # its fast one is the fine-tune alone
    assert last(fast["the_scream"], "--layer-weights") == "residuals=1"
    assert fast["the_scream"][fast["the_scream"].index("blend") + 1].endswith("-fast-tw500.safetensors:0.4")
    assert all("--layer-weights" not in c for name, c in fast.items() if name != "the_scream")
    # night_cafe's, great_wave's and starry_night's half-width fine-tunes are at temporal weight 500, 400 steps,
    # composition_vii's and shipwreck_of_the_minotaur's at 500, 400 + 800; the others' at 1000, 400 + 800
    lighter = [c for c in half if last(c, "--style-name").endswith("-tw500")]
    assert sorted(last(c, "--style-name") for c in lighter) == ["composition_vii-tw500", "composition_vii-tw500",
                                                                 "great_wave-tw500", "night_cafe-tw500",
                                                                 "shipwreck_of_the_minotaur-tw500",
                                                                 "shipwreck_of_the_minotaur-tw500",
                                                                 "starry_night-tw500"]
    assert all(last(c, "--temporal-weight") == "500" for c in lighter)
    assert all(last(c, "--temporal-weight") == "1000" for c in half if last(c, "--style-name").endswith("-tw1000"))


def test_only_names_a_painting_or_fails_in_one_line(tmp_path: Path) -> None:
    done, calls = dry_run(tmp_path, "blend", env={"ONLY": "great_wave mona_lisa"})
    assert done.returncode == 2 and calls == []
    assert done.stderr.strip() == "rebuild_zoo.sh: ONLY: not one of the eight paintings: mona_lisa"


@pytest.mark.parametrize("round_n", ["3", "4"])
def test_a_later_round_runs_only_the_paintings_that_have_it(tmp_path: Path, round_n: str) -> None:
    """refineN with ONLY: the paintings of ONLY that have round N, and no others; without the round before it
    to start from, one line says so."""
    done, calls = dry_run(tmp_path, f"refine{round_n}", env={"ONLY": "great_wave udnie"})
    assert done.returncode == 2 and calls == []
    assert f"refine{round_n}: no round {int(round_n) - 1} of great_wave in" in done.stderr
    before = {"3": "spec-refine", "4": "spec-refine3"}[round_n]
    done, calls = dry_run(tmp_path / "again", f"refine{round_n}", env={"ONLY": "great_wave udnie"},
                          made=(f"{before}/great_wave/great_wave-plain.safetensors",))
    assert done.returncode == 0, done.stderr
    folders = {last(c, "--save-model-dir") for c in calls if "train" in c and last(c, "--style-name").endswith("-plain")}
    assert folders == {f"{tmp_path}/again/work/spec-refine{round_n}/great_wave"}
