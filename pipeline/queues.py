"""Bounded frame queues with a policy when full.

block: put() waits for room (back-pressure; nothing is ever lost; behind file sources).
leaky: put() drops the oldest waiting item and counts it (latency stays bounded; behind live sources).
close() wakes every waiter: the engine uses it to stop a failing pipeline at once.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any

from stylecam.pipeline.item import EOS

POLICIES = ("block", "leaky")


class QueueClosed(Exception):
    """The pipeline is shutting down; the waiting thread should return."""


class FrameQueue:
    def __init__(self, name: str, maxsize: int = 8, policy: str = "block") -> None:
        if policy not in POLICIES:
            raise ValueError(f"queue policy must be one of {POLICIES}, not {policy!r}")
        if maxsize < 1:
            raise ValueError("queue size must be at least 1")
        self.name, self.maxsize, self.policy = name, maxsize, policy
        self._items: deque[Any] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.max_depth = 0
        self._depth_sum = 0
        self._depth_samples = 0

    def put(self, item: Any) -> None:
        with self._cond:
            if self.policy == "block" or item is EOS:
                # EOS is never dropped and never drops a frame: it waits like a blocking put.
                while len(self._items) >= self.maxsize and not self._closed:
                    self._cond.wait()
            else:
                while len(self._items) >= self.maxsize and self._items[0] is not EOS:
                    self._items.popleft()
                    self.dropped += 1
            if self._closed:
                raise QueueClosed(self.name)
            self._items.append(item)
            self.max_depth = max(self.max_depth, len(self._items))
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Any:
        """Next item; raises TimeoutError after `timeout` seconds, QueueClosed on shutdown."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                raise TimeoutError
            if self._closed:
                raise QueueClosed(self.name)
            self._depth_sum += len(self._items)
            self._depth_samples += 1
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def mean_depth(self) -> float:
        return self._depth_sum / self._depth_samples if self._depth_samples else 0.0
