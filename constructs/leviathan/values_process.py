"""Synth's second process: it imports the values models (pydantic), sends each chart's values shape
(config/shape.py), then makes every chart's values files (helm/values_files.py), while the parent
starts jsii and builds the constructs from the shapes (leviathan/synth.py).

The fork comes first thing in a synth, before this process imports pydantic or starts a thread: the
child runs nothing but pydantic, yaml and json, and leaves with os._exit, so no atexit hook of the
parent (jsii's, a test runner's) runs twice.
"""

from __future__ import annotations

import os
import pickle
import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config.shape import ValuesShape
    from .helm.values_files import ValuesFiles


def all_values_files() -> dict[str, ValuesFiles]:
    from .config.charts import VALUES
    from .helm.values_files import values_files

    return {name: values_files(name, values) for name, values in VALUES.items()}


class InProcessValues:
    """The same answers, made in this process (a synth where a thread already runs, e.g. in tests)."""

    def shapes(self) -> dict[str, ValuesShape]:
        from .config.charts import shapes

        return shapes()

    def result(self) -> dict[str, ValuesFiles]:
        return all_values_files()


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

    def shapes(self) -> dict[str, ValuesShape]:
        """Each chart's values shape: the child's first answer, early in its work."""
        return self._answer()

    def result(self) -> dict[str, ValuesFiles]:
        """Every chart's values files; raises ProfileError as the in-process synth would. After shapes()."""
        return self._answer()

    def _answer(self) -> Any:
        try:
            kind, value = pickle.load(self._pipe)
        except EOFError:
            self._pipe.close()
            raise RuntimeError(f"synth's values process died (exit {os.waitstatus_to_exitcode(self._wait())}) "
                               "before it answered") from None
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
        with os.fdopen(write, "wb") as pipe:
            def send(answer: tuple[str, Any]) -> None:
                pickle.dump(answer, pipe, protocol=pickle.HIGHEST_PROTOCOL)
                pipe.flush()

            try:
                from .config.charts import shapes
                from .helm.values_files import ProfileError

                send(("ok", shapes()))
                try:
                    send(("ok", all_values_files()))
                except ProfileError as error:
                    send(("profile", str(error)))
            except BaseException:  # noqa: BLE001 - anything else travels back as text
                send(("error", traceback.format_exc()))
        status = 0
    finally:
        os._exit(status)
