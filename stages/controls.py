"""Live controls: what the preview window's hotkeys change while the pipeline runs.

One object in ctx.extras["controls"], written by the preview sink's thread and read by the inference
and postprocess stages once per frame. Each field is a single reference assignment, which is atomic in
Python, so no lock is needed; a reader sees either the old or the new value.
"""
from __future__ import annotations

from dataclasses import dataclass, field

HOTKEYS = {
    "n": "next style",
    "p": "previous style",
    "+": "strength up (also =)",
    "-": "strength down",
    "m": "mirror the preview",
    "o": "overlay on/off (fps, per-stage ms, latency)",
    "b": "bypass: show the original",
    "[": "mix towards the first style (with two --style)",
    "]": "mix towards the second style",
    "c": "keep the original colours (stylised brightness only)",
    "s": "stylise only the person / only the background / everything (with --mask)",
    "h": "show these keys",
    "q": "quit (also Esc)",
}
STRENGTH_STEP = 0.1
MIX_STEP = 0.1


@dataclass
class LiveControls:
    styles: list[str] = field(default_factory=list)
    style_index: int = 0
    strength: float = 1.0
    bypass: bool = False
    keep_colors: bool = False
    mix: float = 0.0  # 0: the first style, 1: the second (`stylecam live --style A --style B`)
    mask: str | None = None  # "person", "background" or None (everything); the mask stage sets its start
    mirror_preview: bool = False
    overlay: bool = True
    show_help: bool = False
    quit: bool = False

    @property
    def style(self) -> str | None:
        return self.styles[self.style_index] if self.styles else None

    def handle_key(self, key: str) -> str | None:
        """Apply one hotkey; returns what changed, for the overlay/console, or None if unbound."""
        if key in ("n", "p") and self.styles:
            step = 1 if key == "n" else -1
            self.style_index = (self.style_index + step) % len(self.styles)
            return f"style: {self.style}"
        if key in ("+", "=", "-"):
            delta = STRENGTH_STEP if key != "-" else -STRENGTH_STEP
            self.strength = round(min(1.0, max(0.0, self.strength + delta)), 2)
            return f"strength: {self.strength:.1f}"
        if key == "m":
            self.mirror_preview = not self.mirror_preview
            return f"mirror preview: {'on' if self.mirror_preview else 'off'}"
        if key == "o":
            self.overlay = not self.overlay
            return f"overlay: {'on' if self.overlay else 'off'}"
        if key == "b":
            self.bypass = not self.bypass
            return f"bypass: {'on' if self.bypass else 'off'}"
        if key in ("[", "]"):
            delta = MIX_STEP if key == "]" else -MIX_STEP
            self.mix = round(min(1.0, max(0.0, self.mix + delta)), 2)
            return f"mix: {self.mix:.1f}"
        if key == "c":
            self.keep_colors = not self.keep_colors
            return f"original colours: {'on' if self.keep_colors else 'off'}"
        if key == "s":
            order = ["person", "background", None]
            self.mask = order[(order.index(self.mask) + 1) % len(order)]
            return f"stylise: {'everything' if self.mask is None else 'only the ' + self.mask}"
        if key == "h":
            self.show_help = not self.show_help
            return help_text()
        if key in ("q", "\x1b"):
            self.quit = True
            return "quit"
        return None


def help_text() -> str:
    return "keys: " + "  ".join(f"{k} {v}" for k, v in HOTKEYS.items())
