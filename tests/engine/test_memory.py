"""The pixel budget (max_pixels_in_flight): photos wait for room, one too large runs alone."""

from __future__ import annotations

import threading
import time

from humancut.memory import PixelBudget, trim


def test_budget_never_holds_more_than_its_limit():
    budget, seen, lock = PixelBudget(100), [], threading.Lock()

    def job(pixels: int) -> None:
        with budget.hold(pixels):
            with lock:
                seen.append(budget.held)
            time.sleep(0.01)

    threads = [threading.Thread(target=job, args=(p,)) for p in (60, 60, 30, 250, 40, 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(seen) == 6 and max(seen) <= 100
    assert budget.held == 0


def test_a_photo_larger_than_the_budget_runs_alone_and_zero_is_no_limit():
    budget = PixelBudget(100)
    with budget.hold(10_000):
        assert budget.held == 100
    assert budget.held == 0
    free = PixelBudget(0)
    with free.hold(10**9), free.hold(10**9):
        assert free.held == 0
    trim()  # harmless wherever it runs
