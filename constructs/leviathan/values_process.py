"""Synth's second process: every chart's values files (helm/values_files.py), made in a forked child
while the parent starts jsii and builds the constructs (leviathan/synth.py).

The fork comes first thing in a synth, before this process imports pydantic or starts a thread: the
child imports the values models itself, runs nothing but pydantic, yaml and json, and leaves with
os._exit, so no atexit hook of the parent (jsii's, a test runner's) runs twice.
"""

from __future__ import annotations

import os
import pickle
import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .helm.values_files import ValuesFiles


def all_values_files() -> dict[str, ValuesFiles]:
    from .config.charts import VALUES
    from .helm.values_files import values_files

    return {name: values_files(name, values) for name, values in VALUES.items()}


class ValuesProcess:
    """Forks at construction; `result()` waits for the child's answer."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:
            os.close(read)
            _child(write)
        os.close(write)
        self._pipe = os.fdopen(read, "rb")
        self._status: int | None = None

    def result(self) -> dict[str, ValuesFiles]:
        """Every chart's values files; raises ProfileError as the in-process synth would."""
        with self._pipe:
            data = self._pipe.read()
        wait_status = self._wait()
        if not data:
            raise RuntimeError(f"synth's values process died (exit {os.waitstatus_to_exitcode(wait_status)}) "
                               "before it answered")
        kind, value = pickle.loads(data)
        if kind == "profile":
            from .helm.values_files import ProfileError

            raise ProfileError(value)
        if kind == "error":
            raise RuntimeError(f"synth's values process failed:\n{value}")
        return value

    def close(self) -> None:
        """Reap the child, answered or not (a synth that failed before it asked)."""
        self._pipe.close()
        self._wait()

    def _wait(self) -> int:
        if self._status is None:
            self._status = os.waitpid(self._pid, 0)[1]
        return self._status


def _child(write: int) -> None:
    status = 1
    try:
        from .helm.values_files import ProfileError

        try:
            answer: tuple[str, Any] = ("ok", all_values_files())
        except ProfileError as error:
            answer = ("profile", str(error))
        except BaseException:  # noqa: BLE001 - anything else travels back as text
            answer = ("error", traceback.format_exc())
        with os.fdopen(write, "wb") as pipe:
            pickle.dump(answer, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        status = 0
    finally:
        os._exit(status)
