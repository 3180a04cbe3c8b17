"""CPU seconds used by a set of processes between two readings, threads and
short-lived PostgreSQL backends included, so a benchmark can say what one
unit of work costs in CPU (every process that served it counted)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

import psutil

from ops.supervisor import Supervisor


def _seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class CpuMeter:
    """Groups of processes by name (`groups()` is asked at each reading, so
    processes started meanwhile count from their start)."""

    def __init__(self, groups: Callable[[], dict[str, list[int]]]) -> None:
        self._groups = groups
        self._start: dict[str, dict[int, float]] = {}

    def _read(self) -> dict[str, dict[int, float]]:
        readings: dict[str, dict[int, float]] = {}
        for group, pids in self._groups().items():
            for pid in pids:
                with contextlib.suppress(psutil.Error):
                    readings.setdefault(group, {})[pid] = _seconds(psutil.Process(pid))
        return readings

    def start(self) -> None:
        self._start = self._read()

    def seconds(self) -> dict[str, float]:
        """CPU seconds per group since start(); processes that ended since are
        counted up to the start only (a pool's backends live as long as it)."""
        now = self._read()
        used = {}
        for group, pids in now.items():
            before = self._start.get(group, {})
            used[group] = round(sum(t - before.get(pid, 0.0) for pid, t in pids.items()), 2)
        used["all"] = round(sum(used.values()), 2)
        return used


def supervised(sup: Supervisor, *, this_process: str | None = None) -> Callable[[], dict[str, list[int]]]:
    """The groups of a Supervisor's run: each service, PostgreSQL (the
    postmaster and every backend) and, named `this_process`, the benchmark's
    own process (where the fake model server runs)."""

    def groups() -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for name, child in sup.children.items():
            if child.proc and child.proc.poll() is None:
                found.setdefault(name.split("-")[0], []).append(child.proc.pid)
        postmaster = sup.pg.running_pid() if sup.pg else None
        if postmaster:
            with contextlib.suppress(psutil.Error):
                found["postgres"] = [postmaster, *(c.pid for c in psutil.Process(postmaster).children())]
        if this_process:
            found[this_process] = [os.getpid()]
        return found

    return groups
