"""The bus: how stages and the engine tell the application what happened, as data.

Like GStreamer's GstBus, stages never print. They post a Message (a damaged input, a skipped image, a
rotated video, the virtual camera that opened, a style switch); the application decides how to show it
(the command line: one line each on stderr, fewer with --quiet) and tests read `bus.messages`.
Posting is thread-safe and synchronous: subscribers run in the posting thread, in order.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

WARNING = "warning"  # something about the input or output the user should know (damaged, truncated, skipped)
NOTICE = "notice"  # what stylecam did or is doing (rotated a video, opened a device, switched style)
LEVELS = (WARNING, NOTICE)


@dataclass(frozen=True)
class Message:
    level: str
    source: str  # the stage's name, or "engine"
    text: str
    time: float = field(default_factory=time.perf_counter)


class Bus:
    def __init__(self) -> None:
        self._lock = threading.RLock()  # reentrant: a signal handler may post while its thread is posting
        self._subscribers: list[Callable[[Message], None]] = []
        self.messages: list[Message] = []

    def subscribe(self, callback: Callable[[Message], None]) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def post(self, level: str, source: str, text: str) -> Message:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
        message = Message(level, source, text)
        with self._lock:  # one message at a time: subscribers' lines never interleave
            self.messages.append(message)
            for callback in self._subscribers:
                callback(message)
        return message

    def warning(self, source: str, text: str) -> Message:
        return self.post(WARNING, source, text)

    def notice(self, source: str, text: str) -> Message:
        return self.post(NOTICE, source, text)

    def texts(self, level: str | None = None) -> list[str]:
        """The messages' texts, all or of one level (what tests read)."""
        return [m.text for m in self.messages if level is None or m.level == level]
