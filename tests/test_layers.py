"""The structure: imports run one way (engine core at the bottom, the application on top), stages are found
through the registry (a third-party distribution adds its own through the `stylecam.stages` entry points),
and stages report through the bus."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np

from stylecam.pipeline.bus import Bus


def loaded_after(statement: str) -> set[str]:
    """stylecam and heavy modules loaded by `statement` in a fresh interpreter."""
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_the_engine_core_loads_no_stage_model_trainer_or_torch():
    modules = loaded_after("import stylecam.pipeline.engine, stylecam.pipeline.registry, stylecam.pipeline.bus, "
                           "stylecam.pipeline.queues, stylecam.pipeline.metrics, stylecam.pipeline.files")
    assert "stylecam.pipeline.engine" in modules
    banned = [m for m in modules if m.startswith(("stylecam.stages", "stylecam.models", "stylecam.train", "stylecam.pipeline.app"))
              or m.split(".")[0] in ("torch", "cv2", "av")]
    assert not banned, banned


def test_layers_import_only_downwards():
    """models/ knows no stage, trainer or application; stages and train know no application."""
    models = loaded_after("import stylecam.models.styles, stylecam.models.runtimes, stylecam.models.export, stylecam.models.blend")
    assert not [m for m in models if m.startswith(("stylecam.stages", "stylecam.train", "stylecam.pipeline.app"))]
    lower = loaded_after("import stylecam.stages, stylecam.stages.inference, stylecam.stages.sinks, stylecam.train.trainer")
    assert not [m for m in lower if m.startswith("stylecam.pipeline.app")]
    # the registry names stylecam's own stages without importing them (no torch for `stylecam --help`)
    registered = loaded_after("import stylecam.stages")
    assert "torch" not in registered and "stylecam.stages.inference" not in registered


PLUGIN = '''
"""A third-party stylecam plugin: a filter stage and a sink, found through entry points."""
import json

import numpy as np


class Invert:
    name = "invert"

    def open(self, ctx):
        ctx.bus.notice(self.name, "inverting every frame")

    def process(self, frame):
        frame.data = 255 - frame.data
        return frame

    def close(self):
        pass


class Summary:
    name = "summary"

    def __init__(self, path: str):
        self.path, self.means = path, []

    def open(self, ctx):
        pass

    def process(self, frame):
        self.means.append(float(np.asarray(frame.data).mean()))

    def close(self):
        with open(self.path, "w") as f:
            json.dump(self.means, f)
'''


def test_a_third_party_distribution_adds_stages_through_entry_points(tmp_path):
    site = tmp_path / "site"
    (site / "stylecam_demo_plugin").mkdir(parents=True)
    (site / "stylecam_demo_plugin" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    dist = site / "stylecam_demo_plugin-1.0.dist-info"  # what pip install writes: importlib.metadata finds it
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: stylecam-demo-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[stylecam.stages]\nstage.invert = stylecam_demo_plugin:Invert\n"
                                           "sink.summary = stylecam_demo_plugin:Summary\n")
    spec = tmp_path / "pipeline.yaml"
    summary, plain = tmp_path / "summary.json", tmp_path / "plain.json"

    def run(stages: str, out) -> subprocess.CompletedProcess:
        spec.write_text(textwrap.dedent(f"""\
            source: {{type: testsrc, width: 64, height: 48, frames: 5}}
            stages: [{{type: preprocess}}, {{type: inference, style: random, backend: torch}}, {{type: postprocess}}{stages}]
            sinks: [{{type: summary, path: {out}}}]
            """))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
        return subprocess.run([sys.executable, "-m", "stylecam.pipeline.app.cli", "run", str(spec)], capture_output=True,
                              text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)

    inverted = run(", {type: invert}", summary)
    assert inverted.returncode == 0, inverted.stderr
    assert "inverting every frame" in inverted.stderr  # the plugin's notice, shown by the command line
    straight = run("", plain)
    assert straight.returncode == 0, straight.stderr
    a, b = json.loads(summary.read_text()), json.loads(plain.read_text())
    assert len(a) == len(b) == 5
    assert np.allclose(np.array(a), 255 - np.array(b), atol=1e-6)  # the plugin's filter really ran


def test_unknown_types_name_the_registered_ones_including_plugins():
    from stylecam.pipeline.app.build import ConfigError, build_pipeline
    import pytest

    with pytest.raises(ConfigError, match=r"sinks\[0\]\.type: unknown sink 'nope' \(one of .*null.*preview"):
        build_pipeline({"source": {"type": "testsrc"}, "sinks": [{"type": "nope"}]})


def test_stages_post_to_the_bus_and_the_application_reads_it(tmp_path):
    from stylecam.pipeline.app.build import build_pipeline

    (tmp_path / "a.png").write_bytes(b"not a picture")
    import cv2

    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((16, 16, 3), np.uint8))
    pipeline = build_pipeline({"source": {"type": "images", "path": str(tmp_path)},
                               "stages": [{"type": "preprocess"}, {"type": "inference", "style": "random", "backend": "torch"},
                                          {"type": "postprocess"}],
                               "sinks": [{"type": "null"}]}, device="cpu")
    seen = []
    pipeline.ctx.bus.subscribe(seen.append)
    report = pipeline.run()
    assert report.frames_out == 1
    assert pipeline.ctx.bus.texts("warning") == ["skipping unreadable image a.png"]
    assert [(m.level, m.source) for m in seen] == [("warning", "source")]


def test_bus_keeps_messages_in_order_from_many_threads():
    import threading

    bus = Bus()
    threads = [threading.Thread(target=lambda i=i: [bus.notice(f"t{i}", str(n)) for n in range(100)]) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bus.messages) == 400
    for i in range(4):
        assert [m.text for m in bus.messages if m.source == f"t{i}"] == [str(n) for n in range(100)]


def test_quiet_keeps_warnings_and_drops_notices_and_the_report(tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((16, 16, 3), np.uint8))
    (tmp_path / "b.png").write_bytes(b"not a picture")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "stylecam.pipeline.app.cli", "transcode", str(tmp_path), str(out), "--style", "random", "--quiet"]
    quiet = subprocess.run(cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "" and quiet.stderr.strip() == "warning: skipping unreadable image b.png"
    assert (out / "a.png").is_file()
    loud = subprocess.run([*cmd[:-1], "--no-progress"], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert "fps" in loud.stdout and "warning: skipping unreadable image b.png" in loud.stderr  # the report, and the warning


def test_a_broken_checkpoint_is_listed_as_broken(tmp_path, monkeypatch):
    from stylecam.models.styles import list_styles

    (tmp_path / "broken.safetensors").write_bytes(b"garbage")
    monkeypatch.setenv("STYLECAM_STYLES", str(tmp_path))
    listed = {s.name: s for s in list_styles()}
    assert listed["broken"].description == "corrupt or not a stylecam checkpoint"
