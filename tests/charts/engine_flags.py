"""The engine half of "accepted means valid": would the engine's own parser accept the command line?

HOOK: `engine_flag_errors` is where the check against the real engine parser plugs in. The flag
manifests generated from each engine's argparse (constructs/leviathan/engines/*.json, being added on
main) list every accepted flag with its arity and type; once they exist, check `args` against them
here (and drop the inference below). Until then the check infers, from the chart's own default
command line, which flags take a value and which of those are integers, and rejects what argparse
would reject for those flags: a value that starts with "-" (read as another option: "expected one
argument") and an integer flag whose value is not an integer ("invalid int value").
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

MANIFESTS = Path(__file__).resolve().parents[2] / "constructs" / "leviathan" / "engines"
NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


@cache
def value_flags(default_args: tuple[str, ...]) -> dict[str, bool]:
    """flag -> takes an int, for each `--flag value` pair of a default command line."""
    flags = {}
    for flag, value in zip(default_args, default_args[1:]):
        if flag.startswith("--") and not value.startswith("--"):
            flags[flag] = bool(re.fullmatch(r"\d+", value))
    return flags


def template_flags(deployment_template: str) -> frozenset[str]:
    """Every flag the chart's engine container can emit (literal `- --flag` items of the template)."""
    return frozenset(re.findall(r'^\s*- "?(--[A-Za-z][\w-]*)"?$', deployment_template, re.M))


def engine_flag_errors(chart_flags: frozenset[str], default_args: list[str], args: list[str],
                       extra_args: list[str]) -> list[str]:
    """Reasons the engine's parser would refuse `args`. `extra_args`, appended verbatim at the end,
    are the user's own and are left to the engine.extraArgs check."""
    own = args[:len(args) - len(extra_args)] if extra_args else args
    known = value_flags(tuple(default_args))
    errors = []
    index = 0
    while index < len(own):
        token = own[index]
        if token in known and index + 1 < len(own):
            value = own[index + 1]
            if value.startswith("-") and not NEGATIVE_NUMBER.match(value):
                errors.append(f"{token}: expected one argument (got the option-like {value!r})")
            elif known[token] and not re.fullmatch(r"[-+]?\d+", value.strip()):
                errors.append(f"{token}: invalid int value {value!r}")
            index += 2
            continue
        if token.startswith("-") and token not in chart_flags:
            errors.append(f"unrecognized arguments: {token!r} (a value that starts with '-' reads as an option)")
        index += 1
    return errors
