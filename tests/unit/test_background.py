"""Daemon workers: futures like an executor's, and an exit that does not wait for them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from bundler.background import DaemonPool


def test_results_and_errors_reach_the_futures() -> None:
    pool = DaemonPool(2, "t")
    ok = pool.submit(lambda a, b: a + b, 2, 3)
    bad = pool.submit(lambda: 1 / 0)
    assert ok.result(timeout=5) == 5
    with pytest.raises(ZeroDivisionError):
        bad.result(timeout=5)
    pool.shutdown()


def test_a_free_worker_takes_the_next_job() -> None:
    pool = DaemonPool(8, "t")
    names = [pool.submit(lambda: threading.current_thread().name).result(timeout=5)]
    time.sleep(0.05)  # the worker is back waiting
    names += [pool.submit(lambda: threading.current_thread().name).result(timeout=5)]
    assert names == ["t_0", "t_0"]
    pool.shutdown()


def test_shutdown_cancels_what_has_not_started() -> None:
    pool = DaemonPool(1, "t")
    gate = threading.Event()
    running = pool.submit(gate.wait, 5)
    queued = pool.submit(lambda: "never")
    time.sleep(0.05)
    pool.shutdown()
    assert queued.cancelled()
    gate.set()
    assert running.result(timeout=5) is True  # a running job finishes
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(lambda: None)


def test_the_process_exits_without_waiting_for_busy_workers() -> None:
    script = textwrap.dedent(
        """
        import time
        from bundler.background import DaemonPool
        pool = DaemonPool(2, "t")
        pool.submit(time.sleep, 30)
        pool.submit(time.sleep, 30)
        time.sleep(0.1)
        pool.shutdown()
        print("done")
        """
    )
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20, check=True
    )
    assert proc.stdout.strip() == "done"
    # A ThreadPoolExecutor would hold the exit for the 30 s sleeps.
    assert time.monotonic() - started < 10
