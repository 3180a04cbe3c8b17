"""CPU priority tiers for services that share one host (`make run`).

Officers first: analytics (and the gateway) keep the default priority,
intake and PostgreSQL come second (a higher nice value), pipeline replicas
last (SCHED_IDLE: they run only on CPU nobody else wants). Separate pods
split cores by requests instead (deploy/k8s); compose by cpu_shares.

A priority is "idle" (SCHED_IDLE) or a nice value 0-19, added to the
supervisor's own (as nice(1) does). Both may be set by
an unprivileged process on itself and its children, and both are inherited
across fork and exec, so a child started through `command` runs at its tier
from its first instruction, threads included.
"""
from __future__ import annotations

import contextlib
import os

import psutil

from complaints.config import SettingsError, env_str

IDLE = "idle"
# The tiers `make run` uses unless <SERVICE>_CPU_PRIORITY says otherwise.
DEFAULTS = {"analytics": "0", "gateway": "0", "intake": "5", "postgres": "5", "pipeline": IDLE}


def setting(service: str) -> str:
    """<SERVICE>_CPU_PRIORITY, checked: "idle" or a nice value 0-19."""
    name = f"{service.upper()}_CPU_PRIORITY"
    value = env_str(name, DEFAULTS[service]).strip().lower()
    if value != IDLE and not (value.isdigit() and 0 <= int(value) <= 19):
        raise SettingsError(f"{name}={value!r} must be idle (SCHED_IDLE) or a nice value from 0 to 19")
    return value


def command(priority: str, argv: list[str]) -> list[str]:
    """argv started at `priority` (util-linux chrt, coreutils nice)."""
    if priority == IDLE:
        return ["chrt", "--idle", "0", *argv]
    if priority != "0":
        return ["nice", "-n", priority, *argv]
    return argv


def apply_tree(pid: int, priority: str, *, threads: list[int] | None = None) -> None:
    """Moves a running process, its threads and its children to `priority`
    (for PostgreSQL, which is started by pg_ctl; backends forked later
    inherit the postmaster's); with `threads`, only those threads of `pid`."""
    if priority == "0":
        return
    try:
        root = psutil.Process(pid)
        processes = [] if threads is not None else [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    ids = list(threads or [])
    for process in processes:
        with contextlib.suppress(psutil.Error):
            ids += [thread.id for thread in process.threads()]
    for tid in ids:
        with contextlib.suppress(OSError):  # gone meanwhile
            _apply(tid, priority)


def _apply(tid: int, priority: str) -> None:
    if priority == IDLE:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    else:  # added to our own nice value, as nice(1) does for `command`
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + int(priority)))


def current(pid: int) -> str:
    """The priority a process runs at, in the form `setting` takes."""
    if os.sched_getscheduler(pid) == os.SCHED_IDLE:
        return IDLE
    return str(os.getpriority(os.PRIO_PROCESS, pid))
