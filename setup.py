"""Build hook (the rest of the configuration is in setup.cfg).

The default pipeline.yaml stays at the repository root, where the design card puts it, and is copied
into the stylecam.pipeline package at build time, so an installed wheel finds it as package data.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithPipelineYaml(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "stylecam" / "pipeline" / "pipeline.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(ROOT / "pipeline.yaml"), str(target))


setup(cmdclass={"build_py": BuildPyWithPipelineYaml})
