"""Supervision of the long-running host processes an e2e run starts (cluster components, the fake
GPU plugin, kwok, the apiserver relay).

Every process is recorded by name as ``[pid, start time]`` in a JSON file *before* the caller waits
on it, so a later process (the next ``up()``, ``... local down`` from a shell, a CI clean-up step)
can stop it even after the run that started it was SIGKILLed. The start time (field 22 of
``/proc/PID/stat``) guards against a recycled PID: a process is only ever signalled if both match.

Children run in their own session (``start_new_session``): a Ctrl-C or SIGTERM of the test run
must not kill the kubelet before teardown has drained pods. The price is that they outlive a killed
run; that is what the record is for.

Cluster tools must never talk through a proxy: :func:`cluster_env` is the environment for every
child (and for kubectl/helm), with ``HTTP(S)_PROXY``/``NO_PROXY`` removed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

__all__ = ["PROXY_VARIABLES", "cluster_env", "proc_starttime", "alive", "Supervisor"]

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
                   "http_proxy", "https_proxy", "all_proxy", "no_proxy")


def cluster_env(extra: Mapping[str, str] | None = None, *, drop: Iterable[str] = ()) -> dict[str, str]:
    """This process's environment without proxy settings (cluster traffic never goes through a
    proxy), minus *drop*, plus *extra* (which may set a proxy on purpose, e.g. containerd's
    closed-port one)."""
    removed = set(PROXY_VARIABLES) | set(drop)
    env = {k: v for k, v in os.environ.items() if k not in removed}
    env.update(extra or {})
    return env


def proc_starttime(pid: int) -> int | None:
    """Start time of *pid* in clock ticks since boot; None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def alive(pid: int, starttime: int | None) -> bool:
    st = proc_starttime(pid)
    return st is not None and (starttime is None or st == starttime)


class Supervisor:
    """Start, record and stop named processes; the record lives in *state_file* (JSON)."""

    def __init__(self, state_file: Path, logs_dir: Path, cwd: Path | None = None):
        self.state_file = Path(state_file)
        self.logs_dir = Path(logs_dir)
        self.cwd = cwd
        self._popen: dict[str, subprocess.Popen] = {}
        self.pids: dict[str, list[int | None]] = {}
        self.reload()

    # ------------------------------------------------------------------ record
    def reload(self) -> None:
        try:
            self.pids = {k: list(v) for k, v in json.loads(self.state_file.read_text()).items()}
        except (OSError, ValueError):
            self.pids = {}

    def _save(self) -> None:
        if not self.state_file.parent.is_dir():
            return
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.pids, indent=2, sort_keys=True))
        tmp.replace(self.state_file)

    def forget_all(self) -> None:
        self.pids.clear()
        self._popen.clear()
        self._save()

    # ------------------------------------------------------------------ start
    def command(self, argv: Sequence[str], netns: Path | None = None) -> list[str]:
        """*argv*, entered into the network namespace bound at *netns* if given. nsenter execs
        the command in place, so the recorded PID is the command's own."""
        if netns is None:
            return list(argv)
        return ["nsenter", f"--net={netns}", "--", *argv]

    def spawn(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              netns: Path | None = None, pass_fds: Sequence[int] = (), drop_env: Iterable[str] = (),
              new_session: bool = True) -> subprocess.Popen:
        """Start *argv* as *name*, logging to ``<logs_dir>/<name>.log``, and record it at once."""
        if name in self.pids and self.alive(name):
            raise RuntimeError(f"{name} is already running (pid {self.pids[name][0]})")
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        full = self.command(argv, netns)
        with open(self.logs_dir / f"{name}.log", "ab") as log:
            log.write(f"\n=== {time.strftime('%F %T')} {' '.join(full)}\n".encode())
            log.flush()
            proc = subprocess.Popen(full, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=self.cwd, env=cluster_env(env, drop=drop_env),
                                    start_new_session=new_session, pass_fds=tuple(pass_fds))
        self._popen[name] = proc
        self.pids[name] = [proc.pid, proc_starttime(proc.pid)]
        self._save()
        return proc

    # ------------------------------------------------------------------ query
    def alive(self, name: str) -> bool:
        entry = self.pids.get(name)
        return bool(entry) and alive(entry[0], entry[1])

    def exit_code(self, name: str) -> int | None:
        proc = self._popen.get(name)
        return proc.poll() if proc is not None else None

    # ------------------------------------------------------------------ stop
    def _reap(self, name: str) -> None:
        proc = self._popen.get(name)
        if proc is not None:
            proc.poll()

    def _signal(self, pid: int, sig: int) -> None:
        try:
            # A child in its own session leads its group: the group is it plus its short-lived
            # helpers. Never signal a group we do not lead (that could be the caller's).
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, name: str, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL after *timeout*; drops the record once the process is gone."""
        entry = self.pids.get(name)
        if not entry:
            return
        pid, start = entry
        if alive(pid, start):
            self._signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while alive(pid, start) and time.monotonic() < deadline:
                self._reap(name)
                time.sleep(0.1)
            if alive(pid, start):
                self._signal(pid, signal.SIGKILL)
                while alive(pid, start):
                    self._reap(name)
                    time.sleep(0.05)
        self._reap(name)
        self.pids.pop(name, None)
        self._popen.pop(name, None)
        self._save()

    def stop_all(self, order: Sequence[str] = ()) -> None:
        """Stop every recorded process: those named in *order* first, in that order."""
        names = [n for n in order if n in self.pids]
        names += [n for n in list(self.pids) if n not in names]
        for name in names:
            self.stop(name)
