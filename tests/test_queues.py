import threading
import time

import pytest

from stylecam.pipeline.item import EOS
from stylecam.pipeline.queues import FrameQueue, QueueClosed


def test_block_policy_loses_nothing_and_keeps_order():
    q = FrameQueue("q", maxsize=2, policy="block")
    got = []

    def consume():
        while (item := q.get()) is not EOS:
            got.append(item)
            time.sleep(0.001)

    t = threading.Thread(target=consume)
    t.start()
    for i in range(50):
        q.put(i)
    q.put(EOS)
    t.join(5)
    assert got == list(range(50))
    assert q.dropped == 0 and q.max_depth <= 2


def test_leaky_policy_drops_the_oldest():
    q = FrameQueue("q", maxsize=3, policy="leaky")
    for i in range(10):
        q.put(i)
    assert q.dropped == 7
    assert [q.get(), q.get(), q.get()] == [7, 8, 9]


def test_eos_is_never_dropped():
    q = FrameQueue("q", maxsize=1, policy="leaky")
    q.put(1)
    threading.Timer(0.05, q.get).start()
    q.put(EOS)  # waits for room instead of dropping frame 1
    assert q.get() is EOS and q.dropped == 0


def test_close_wakes_blocked_put_and_get():
    full = FrameQueue("full", maxsize=1, policy="block")
    full.put(0)
    empty = FrameQueue("empty", maxsize=1)
    errors = []

    def wait(fn):
        try:
            fn()
        except QueueClosed:
            errors.append(fn)

    threads = [threading.Thread(target=wait, args=(lambda: full.put(1),)), threading.Thread(target=wait, args=(empty.get,))]
    for t in threads:
        t.start()
    time.sleep(0.05)
    full.close()
    empty.close()
    for t in threads:
        t.join(1)
    assert len(errors) == 2


def test_get_timeout():
    with pytest.raises(TimeoutError):
        FrameQueue("q").get(timeout=0.01)
