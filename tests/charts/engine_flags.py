"""The engine half of "accepted means valid": would the pinned engine's parser accept the command line?

Per draw (fast, so hypothesis can shrink a counterexample): the flag manifest generated from each
engine's own parser (constructs/leviathan/engines/manifests/, `flag_manifest`) is applied the way
argparse applies it - every option must exist, a one-value option takes the next token (which may
not look like another option), int, float and choice options get a value of that kind, and only
the positionals the engine has may stand alone. For KTransformers the draw is also parsed by the
server's argparse parser rebuilt from that manifest (`kt_parser`). llama-server's C++ parser is
emulated word for word (`llamacpp_errors`); the engine e2e runs the real binary. For vLLM the real `vllm serve`
parser runs once over every rendered command line of a sweep (`parse_with_engine`): importing vLLM
takes most of a minute, too slow for each draw.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re

from leviathan.engines import flag_manifest

from .test_engine_parsers import kt_parser  # noqa: F401 - re-exported for the sweep

NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
# Positional arguments the engine's parser has: `vllm serve <model>`; the KTransformers server none.
POSITIONALS = {"ktransformers": 0, "vllm": 1, "sglang": 0}
# The engine whose flag manifest a chart uses, where the names differ.
ENGINE_OF_CHART = {"kt-sglang": "sglang"}
TYPES = {"int": int, "float": float}


def _looks_like_option(token: str) -> bool:
    # argparse reads "-x" as an option, but "-5" as a negative number (the parsers have no such options)
    return token.startswith("-") and not NUMBER.match(token)


def manifest_errors(engine: str, argv: list[str]) -> list[str]:
    manifest = flag_manifest.load(engine)
    errors, positionals, index = [], 0, 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if not _looks_like_option(token):
            positionals += 1
            if positionals > POSITIONALS[engine]:
                errors.append(f"unrecognized arguments: {token!r}")
            continue
        flag, has_inline, inline = token.partition("=")
        spec = manifest.options.get(manifest.canonical(flag))
        if spec is None:
            errors.append(f"unrecognized arguments: {flag}")
            continue
        nargs = spec["nargs"]
        if nargs == 0:
            if has_inline:
                errors.append(f"{flag}: ignored explicit argument {inline!r}")
            continue
        values = [inline] if has_inline else []
        while not has_inline and index < len(argv) and not _looks_like_option(argv[index]):
            values.append(argv[index])
            index += 1
            if nargs == 1:
                break
        if not values:
            errors.append(f"{flag}: expected {'one argument' if nargs == 1 else 'at least one argument'}")
        for value in values:
            kind = TYPES.get(spec.get("type"))
            if kind is not None:
                try:
                    kind(value)
                except ValueError:
                    errors.append(f"{flag}: invalid {spec['type']} value: {value!r}")
            if spec.get("choices") and value not in spec["choices"]:
                errors.append(f"{flag}: invalid choice: {value!r}")
    return errors


STOI = re.compile(r"^\s*[-+]?\d+")


def llamacpp_errors(argv: list[str]) -> list[str]:
    """llama-server's `common_params_parse_ex`, applied to its option table: `_` becomes `-` in a
    `--` word, the word must be an option (no `--flag=value`), an option's values are the next
    words whatever they look like, and an int value goes through `std::stoi` (leading integer,
    within int32)."""
    options = flag_manifest.load("llamacpp").options
    errors, index = [], 0
    while index < len(argv):
        word = argv[index]
        index += 1
        spec = options.get(word.replace("_", "-") if word.startswith("--") else word)
        if spec is None:
            errors.append(f"error: invalid argument: {word}")
            continue
        values = argv[index:index + spec["nargs"]]
        index += spec["nargs"]
        if len(values) < spec["nargs"]:
            errors.append(f"{word}: expected value for argument")
        elif spec["type"] == "int":
            number = STOI.match(values[0])
            if number is None or not -2**31 <= int(number.group()) < 2**31:
                errors.append(f"{word}: std::stoi refuses {values[0]!r}")
    return errors


def engine_flag_errors(engine: str, argv: list[str]) -> list[str]:
    """Reasons the engine's parser would refuse `argv` (empty when it parses)."""
    if engine == "llamacpp":
        return llamacpp_errors(argv)
    errors = manifest_errors(engine, argv)
    if engine == "ktransformers" and not errors:
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                kt_parser().parse_args(argv)
        except (SystemExit, argparse.ArgumentError) as error:
            errors.append(f"KTransformers' parser: {stderr.getvalue().strip() or error}")
    return errors
