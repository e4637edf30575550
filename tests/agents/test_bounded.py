"""An optional source is awaited only so long: `context.Bounded`."""

from __future__ import annotations

import threading
import time

import pytest

from sleuth.agents.context import Bounded


def test_an_answer_in_time_is_used_and_a_late_one_left_out() -> None:
    assert Bounded(lambda: 42).result(1.0) == 42
    release = threading.Event()
    slow = Bounded(lambda: release.wait(5) and 7)
    t0 = time.monotonic()
    assert slow.result(0.05) is None and time.monotonic() - t0 < 1.0
    release.set()
    assert slow.result(1.0) == 7  # it finished on its own


def test_its_error_reaches_whoever_awaits_it() -> None:
    def fails() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        Bounded(fails).result(1.0)
