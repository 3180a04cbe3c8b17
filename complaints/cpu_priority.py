"""CPU priority tiers for services that share one host (`make run`; its
tiers are ops/supervisor.py CPU_TIERS). SCHED_IDLE ("idle") is a setting, not the default: beside
normal-priority processes that never sleep it gets no CPU at all, so a
replica could not even start on a busy host. Separate pods split cores by
requests instead (deploy/k8s); compose by cpu_shares.

A priority is "rt", "idle" (SCHED_IDLE) or a nice value 0-19, added to the
process's own (as nice(1) does). "rt" is SCHED_RR at the lowest real-time
priority: each wake-up of the service's threads takes a core from any normal
or idle thread at once, where a nice value only shortens the wait (the
dashboard's tail on one busy host was that wait, bench/report.md). The
kernel's real-time throttling (sched_rt_runtime_us, 950000 of each 1000000
by default) leaves other work 5% of each core should such a thread never
sleep. It needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least 1; where
refused, the process logs it and keeps the default priority. "idle" and nice
values may be set by an unprivileged process on itself and its children. All
are inherited by new threads, forks and exec. The supervisor hands each
child its tier as <SERVICE>_CPU_PRIORITY and the child moves itself
(`move_self`): a service once it is SERVING, so that loading its model is
not starved on a busy host; the gateway before it exec's Envoy. PostgreSQL
starts in its tier through pg_ctl (`command`), never "rt": a real-time
postmaster would hand the tier to every backend and its background workers.

Where the kernel groups CPU time by session (sched_autogroup, on by default
in desktop and many server kernels), nice values only rank threads inside
one session: each session is weighed as a whole against the others. pg_ctl
starts the postmaster in a session of its own, so PostgreSQL would get as
much CPU as all the services together whatever its nice value; its
session is put in its tier too (`lower_session`). Real-time threads are
outside autogroups.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from complaints.config import ENV, Env, SettingsError

IDLE = "idle"
RT = "rt"
# The lowest real-time priority: above every normal and idle thread, below
# the kernel's own real-time threads.
RT_PRIORITY = 1
# Started through pg_ctl: no "rt" (see above).
NOT_REALTIME = {"postgres"}

log = logging.getLogger(__name__)


def setting(service: str, default: str, env: Env = ENV) -> str:
    """<SERVICE>_CPU_PRIORITY, checked: "rt", "idle" or a nice value 0-19; unset, `default`."""
    name = f"{service.upper()}_CPU_PRIORITY"
    value = env.string(name, default).strip().lower()
    if value == RT and service in NOT_REALTIME:
        raise SettingsError(f"{name}={value!r}: {service} takes idle (SCHED_IDLE) or a nice value from 0 to 19")
    if value not in (RT, IDLE) and not (value.isdigit() and 0 <= int(value) <= 19):
        raise SettingsError(f"{name}={value!r} must be rt (SCHED_RR), idle (SCHED_IDLE) or a nice value from 0 to 19")
    return value


def command(priority: str, argv: list[str]) -> list[str]:
    """argv started at `priority` (util-linux chrt, coreutils nice)."""
    if priority == IDLE:
        return ["chrt", "--idle", "0", *argv]
    if priority != "0":
        return ["nice", "-n", priority, *argv]
    return argv


def move_self(priority: str) -> None:
    """Moves every thread of this process to `priority` (once: a nice value
    is added to the current one)."""
    if priority != "0":
        apply_threads([int(tid) for tid in os.listdir("/proc/self/task")], priority)


def apply_threads(tids: list[int], priority: str) -> None:
    """Moves running threads to `priority` (a thread already started, such
    as the fake model server's in the benchmark). "rt" refused (no
    CAP_SYS_NICE, RLIMIT_RTPRIO 0) leaves them where they are, with a log line."""
    # Added to the calling thread's nice value as it is before any move, as
    # nice(1) does for `command`.
    nice = min(19, os.getpriority(os.PRIO_PROCESS, 0) + int(priority)) if priority not in (RT, IDLE) else 0
    for tid in tids:
        try:
            if priority == RT:
                os.sched_setscheduler(tid, os.SCHED_RR, os.sched_param(RT_PRIORITY))
            elif priority == IDLE:
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            else:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
        except PermissionError as exc:
            # Refused for the first thread, so for all: none has moved.
            log.warning(
                "real-time CPU priority refused, staying at the default priority: %s",
                exc,
                extra={"fields": {"event": "cpu_priority_refused", "priority": priority}},
            )
            return
        except ProcessLookupError:  # gone meanwhile
            continue


def lower_session(pid: int, priority: str) -> None:
    """Puts the autogroup of `pid`'s session at `priority` relative to the
    caller's own (idle counts as nice 19); nothing where the kernel has no
    autogroups."""
    own = session_priority(os.getpid())
    if own is not None:
        nice = min(19, own + (19 if priority == IDLE else int(priority)))
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))


def session_priority(pid: int) -> int | None:
    """The nice value of `pid`'s session's autogroup (None without one: a
    kernel built without autogroups has no file, and a process in the
    default autogroup, whose session never called setsid, shows it empty)."""
    try:
        shown = Path(f"/proc/{pid}/autogroup").read_text().split()
    except FileNotFoundError:
        return None
    return int(shown[-1]) if shown else None


def current(pid: int) -> str:
    """The priority a process runs at, in the form `setting` takes."""
    policy = os.sched_getscheduler(pid)
    if policy in (os.SCHED_RR, os.SCHED_FIFO):
        return RT
    if policy == os.SCHED_IDLE:
        return IDLE
    return str(os.getpriority(os.PRIO_PROCESS, pid))
