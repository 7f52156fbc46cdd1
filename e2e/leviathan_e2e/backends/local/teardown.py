"""Teardown and the leftover check of the local cluster.

Only what this run created is touched or checked:

* processes: those the supervisor recorded, then a sweep of every process inside the cluster's
  network namespace or whose command line names the run dir or our containerd socket (a run
  killed with SIGKILL between starting a process and recording it leaves no orphan behind);
* container processes: those in our cgroup tree, and shims that name our socket;
* mounts under the run dir and the kubelet root (this includes the pod network namespaces, which
  containerd binds under its state dir, and the cluster's network namespace itself: unmounting it
  frees the bridge, kube-proxy's and CNI's chains and the guard, all of which live only there);
* the global sysctls the kubelet changed, restored to the values saved at up;
* our cgroup tree, the directories up() created, the run dir and the kubelet root (if ours).

No host iptables chain, interface, route or network sysctl is ever changed, so none is cleaned.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Callable

from ..base import BackendError
from .config import COMPONENT_ORDER_STOP, MARKER
from .host import (cgroup_mounts, cgroup_pids, kill_until_gone, mountpoints, processes_of_run, read_sysctl, under,
                   unmount_under, write_sysctl)


class TeardownMixin:
    """down() and leftovers() of LocalBackend (see backend.py for the attributes used)."""

    def down(self) -> None:
        """Stop everything and undo every host change. Idempotent; tolerates half-started and
        killed runs (it works from the records on disk, then sweeps)."""
        t0 = time.monotonic()
        self._t0 = t0
        self._state = self._load_state()
        self.supervisor.reload()
        if not self._anything_to_clean():
            return
        self._log(f"tearing down local cluster in {self.run_dir}")
        errors: list[str] = []

        def attempt(what: str, fn: Callable[[], None]) -> None:
            try:
                fn()
            except Exception as exc:
                errors.append(f"{what}: {exc}")

        attempt("drain pods", self._drain_pods)
        attempt("stop processes", lambda: self.supervisor.stop_all(COMPONENT_ORDER_STOP))
        attempt("sweep processes", self._kill_run_processes)
        attempt("unmount", self._unmount_all)
        attempt("sysctls", self._restore_sysctls)
        attempt("cgroups", self._remove_cgroups)
        attempt("files", self._remove_files)
        left = self.leftovers()
        if any(item.startswith("process ") for item in left):
            # One more sweep for a straggler that appeared after the first (then its cgroup too).
            attempt("sweep processes again", self._kill_run_processes)
            attempt("cgroups again", self._remove_cgroups)
            left = self.leftovers()
        if left:
            errors.append("leftovers: " + "; ".join(left))
        self.supervisor.forget_all()
        self._reset_state()
        if errors:
            self._log("teardown finished WITH PROBLEMS:\n  - " + "\n  - ".join(errors))
            raise BackendError("local cluster teardown incomplete:\n  - " + "\n  - ".join(errors))
        self._log(f"teardown complete in {time.monotonic() - t0:.1f}s")

    def _anything_to_clean(self) -> bool:
        return bool(self.supervisor.pids or self.run_dir.exists()
                    or (self.cfg.kubelet_root / MARKER).exists() or self._run_processes())

    def _drain_pods(self) -> None:
        """Let the kubelet stop pods (CNI DEL, unmounts) before processes are killed."""
        need = ("apiserver-relay", "kube-apiserver", "kubelet", "containerd")
        if not all(self.supervisor.alive(n) for n in need):
            return
        # Controllers first, so deleted pods are not re-created.
        for name in ("kube-controller-manager", "kube-scheduler"):
            self.supervisor.stop(name)
        api = self.api()
        try:
            pods = api.get("/api/v1/pods", timeout=10)["items"]
        except Exception:
            return
        for p in pods:
            md = p["metadata"]
            try:
                api.request("DELETE", f"/api/v1/namespaces/{md['namespace']}/pods/{md['name']}",
                            {"gracePeriodSeconds": 0}, timeout=5)
            except Exception:
                pass
        if pods:
            self._log(f"deleted {len(pods)} pod(s); waiting for the kubelet to stop them")
        # Wait even when the API lists no pod: a pod whose namespace was just deleted is gone from the
        # API while the kubelet is still stopping its containers.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not self._ctr("tasks", "ls", "-q", check=False, timeout=10).stdout.split():
                return
            time.sleep(0.5)

    # ------------------------------------------------------------------ processes
    def _run_processes(self) -> dict[int, str]:
        netns = self._state.netns_id or self.network.id
        # the trailing slash: /tmp/leviathan-e2e-local/ must not match /tmp/leviathan-e2e-local2/
        return processes_of_run(netns, [f"{self.run_dir}/"])

    def _our_shims(self) -> list[int]:
        needle = str(self.containerd_socket)
        return [pid for pid, cmd in processes_of_run(None, [needle]).items() if "containerd-shim" in cmd]

    def _cgroup_dirs(self) -> list[Path]:
        rel = self.cfg.cgroup_root.lstrip("/")
        return [m / rel for m in cgroup_mounts() if (m / rel).is_dir()]

    def _kill_run_processes(self) -> None:
        """SIGKILL what is left of this run: container processes (our cgroup tree), shims, and
        anything in our network namespace or naming our run dir (unrecorded by a killed run)."""
        # Done after three empty scans in a row: a container a dying shim or runc was still
        # starting shows up a moment after the first empty scan (seen in CI as a leftover).
        kill_until_gone(lambda: set(self._run_processes()) | cgroup_pids(self._cgroup_dirs()),
                        attempts=60, quiet_scans=3)

    # ------------------------------------------------------------------ host state
    def _unmount_all(self) -> None:
        left = unmount_under([self.run_dir, self.cfg.kubelet_root])
        if left:
            raise BackendError(f"still mounted: {left}")

    def _restore_sysctls(self) -> None:
        for key, val in self._state.sysctls.items():
            if read_sysctl(key) != val:
                write_sysctl(key, val)

    def _remove_cgroups(self) -> None:
        for cg in self._cgroup_dirs():
            for d in sorted((p for p in cg.rglob("*") if p.is_dir()),
                            key=lambda p: len(p.parts), reverse=True):
                try:
                    d.rmdir()
                except OSError:
                    pass
            try:
                cg.rmdir()
            except OSError as exc:
                raise BackendError(f"cannot remove cgroup {cg}: {exc}")

    def _remove_files(self) -> None:
        roots = [self.run_dir, self.cfg.kubelet_root]
        if any(under(m, roots) for m in mountpoints()):
            raise BackendError("refusing to delete files: mounts remain")
        # kubelet's legacy /var/log/containers symlinks into our pod log dir
        legacy = Path("/var/log/containers")
        if legacy.is_dir():
            for link in legacy.iterdir():
                try:
                    if link.is_symlink() and under(os.readlink(link), [self.run_dir]):
                        link.unlink()
                except OSError:
                    pass
        # CNI result cache of our network (the bridge plugin writes it on the host filesystem)
        results = Path("/var/lib/cni/results")
        if results.is_dir():
            for f in results.glob("leviathan-e2e-*"):
                f.unlink(missing_ok=True)
        shutil.rmtree("/var/lib/cni/networks/leviathan-e2e", ignore_errors=True)
        for d in sorted(self._state.created_dirs, key=len, reverse=True):
            p = Path(d)
            if p.is_dir():
                # only remove what is now empty of anything we did not make
                for sub in sorted(p.rglob("*"), key=lambda x: len(x.parts), reverse=True):
                    try:
                        sub.rmdir() if sub.is_dir() and not sub.is_symlink() else None
                    except OSError:
                        pass
                try:
                    p.rmdir()
                except OSError:
                    pass
        kr = self.cfg.kubelet_root
        if (kr / MARKER).exists() and (kr / MARKER).read_text().strip() == str(self.run_dir):
            shutil.rmtree(kr)
        if self.run_dir.exists():
            shutil.rmtree(self.run_dir)

    def leftovers(self) -> list[str]:
        """Anything this run created that is still on the host (empty after a clean down())."""
        left = [f"process {pid}: {cmd[:120]}" for pid, cmd in sorted(self._run_processes().items())]
        roots = [self.run_dir, self.cfg.kubelet_root]
        left += [f"mount {m}" for m in mountpoints() if under(m, roots)]
        left += [f"cgroup {c}" for c in self._cgroup_dirs()]
        left += [f"dir {d} (created by up)" for d in self._state.created_dirs if Path(d).exists()]
        if self.run_dir.exists():
            left.append(f"dir {self.run_dir}")
        if (self.cfg.kubelet_root / MARKER).exists():
            left.append(f"dir {self.cfg.kubelet_root}")
        return left
