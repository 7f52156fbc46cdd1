"""Describe an argparse parser as data: every option string with what it takes.

Shared by the per-engine extractors; runs inside the engine's own Python environment, so it uses
the standard library only.
"""

import argparse
import contextlib
import io
import json
import sys
from typing import Callable


def _action_name(action: argparse.Action) -> str:
    name = type(action).__name__
    return {"_StoreAction": "store", "_StoreTrueAction": "store_true", "_StoreFalseAction": "store_false",
            "_StoreConstAction": "store_const", "_AppendAction": "append", "_CountAction": "count",
            "_HelpAction": "help", "_VersionAction": "version", "_SubParsersAction": "parsers",
            "_ExtendAction": "extend", "_AppendConstAction": "append_const"}.get(name, name)


def _type_name(action: argparse.Action) -> str | None:
    kind = action.type
    if kind is None:
        return None
    if kind in (str, int, float, bool, list):
        return kind.__name__
    return getattr(kind, "__name__", type(kind).__name__)


def describe(parser: argparse.ArgumentParser) -> dict:
    options = {}
    for action in parser._actions:
        if not action.option_strings:
            continue
        nargs = action.nargs
        entry = {
            "dest": action.dest,
            "action": _action_name(action),
            # argparse gives switches nargs 0; None means exactly one value.
            "nargs": 1 if nargs is None else nargs,
            "type": _type_name(action),
        }
        if action.choices is not None:
            entry["choices"] = sorted(str(c) for c in action.choices)
        for option in action.option_strings:
            options[option] = entry
    return options



def run_cli(build: Callable[[], tuple[argparse.ArgumentParser, Callable[[list[str]], dict]]]) -> None:
    """The extractors' command line. `build()` returns the engine's parser and a function that
    parses one argv the way the engine does and returns what to report of it.
    `describe` prints the parser's flag manifest; `parse ARGS.json` prints one verdict per argv,
    where a refusal (SystemExit) becomes {"accepted": false, "exit": ..., "message": <stderr>}."""
    # Engines log to stdout while importing (inside build); keep stdout for the result.
    result, sys.stdout = sys.stdout, sys.stderr
    parser, parse = build()
    if sys.argv[1] == "describe":
        json.dump(describe(parser), result, indent=1, sort_keys=True)
        return
    verdicts = []
    for argv in json.load(open(sys.argv[2])):
        messages = io.StringIO()
        try:
            with contextlib.redirect_stderr(messages):
                verdicts.append({"argv": argv, "accepted": True, **parse(argv)})
        except SystemExit as refused:
            verdicts.append({"argv": argv, "accepted": False, "exit": refused.code, "message": messages.getvalue()})
    json.dump(verdicts, result, indent=1, default=str)
