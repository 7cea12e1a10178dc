"""Stages: sources, transforms, inference and sinks. Each is a plain object the engine drives."""
