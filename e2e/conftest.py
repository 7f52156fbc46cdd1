"""Shared fixtures of the e2e suite (``pytest e2e/tests -m e2e``).

Fixtures:
    cluster    session: a started ClusterBackend (local | kind | existing)
    kubectl    session: Kubectl bound to the cluster's admin kubeconfig
    namespace  function: a fresh namespace, deleted after the test

Choosing the backend: ``LEVIATHAN_E2E_BACKEND=local`` (default) | ``kind`` | ``existing``.

Options:
    --keep-cluster     do not tear the cluster down at the end (and reuse a healthy
                       local cluster left by a previous --keep-cluster run)
    --e2e-logs DIR     where failure diagnostics go (default: ./e2e-logs)
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import time
from pathlib import Path

import pytest

from leviathan_e2e.backends import get_backend
from leviathan_e2e.backends.base import ClusterBackend, Kubectl


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("leviathan-e2e")
    group.addoption("--keep-cluster", action="store_true", default=False,
                    help="leave the e2e cluster running after the session (and reuse one)")
    group.addoption("--e2e-logs", default=os.environ.get("LEVIATHAN_E2E_LOGS", "e2e-logs"),
                    help="directory for failure diagnostics (default: e2e-logs)")


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"e2e run stopped by signal {signal.Signals(signum).name}")


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM/SIGHUP (CI timeout, closed terminal) end the run like Ctrl-C: pytest then still runs
    # the session fixtures' teardown, so the cluster goes down. (SIGKILL cannot be caught: the
    # next up() cleans up after such a run from its records.)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Make each phase's report available to fixtures (item.rep_setup / rep_call).
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def _logs_root(config: pytest.Config) -> Path:
    return Path(config.getoption("--e2e-logs")).resolve()


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> ClusterBackend:
    name = os.environ.get("LEVIATHAN_E2E_BACKEND", "local")
    keep = request.config.getoption("--keep-cluster")
    logs = _logs_root(request.config)
    backend = get_backend(name)
    t0 = time.monotonic()
    print(f"\n[e2e] starting {name} cluster ...", flush=True)
    try:
        if name == "local":
            backend.up(reuse=keep or None)  # type: ignore[call-arg]
        else:
            backend.up()
    except BaseException:
        dest = logs / f"{name}-up-failure"
        try:
            backend.collect_logs(dest)
            print(f"[e2e] cluster start failed; diagnostics in {dest}", flush=True)
        finally:
            if not keep:
                backend.down()
        raise
    print(f"[e2e] {name} cluster up in {time.monotonic() - t0:.1f}s "
          f"(KUBECONFIG={backend.kubeconfig})", flush=True)
    failed_before = request.session.testsfailed
    yield backend
    if request.session.testsfailed > failed_before:
        dest = logs / f"{name}-session"
        backend.collect_logs(dest)
        print(f"\n[e2e] tests failed; cluster diagnostics in {dest}", flush=True)
    if keep:
        print(f"\n[e2e] --keep-cluster: leaving it running (KUBECONFIG={backend.kubeconfig})")
        return
    t1 = time.monotonic()
    backend.down()
    print(f"\n[e2e] {name} cluster down in {time.monotonic() - t1:.1f}s", flush=True)


@pytest.fixture(scope="session")
def kubectl(cluster: ClusterBackend) -> Kubectl:
    return cluster.kubectl()


@pytest.fixture
def namespace(request: pytest.FixtureRequest, kubectl: Kubectl) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    ns = f"e2e-{base or 'test'}-{secrets.token_hex(3)}"
    kubectl("create", "namespace", ns)
    # Namespace-scoped ServiceAccount "default" is created asynchronously.
    deadline = time.monotonic() + 30
    while kubectl("get", "serviceaccount", "default", "-n", ns, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"ServiceAccount default never appeared in {ns}")
        time.sleep(0.3)
    yield ns
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        dest = _logs_root(request.config) / "tests" / ns
        dest.mkdir(parents=True, exist_ok=True)
        for fname, args in (("all.txt", ["get", "all,pvc,events", "-n", ns, "-o", "wide"]),
                            ("describe-pods.txt", ["describe", "pods", "-n", ns]),
                            ("logs.txt", ["logs", "-n", ns, "--all-containers", "--prefix",
                                          "--tail=300", "-l", "!e2e-no-such-label"])):
            p = kubectl(*args, check=False)
            (dest / fname).write_text(p.stdout + p.stderr)
    kubectl("delete", "namespace", ns, "--wait=false", check=False)
