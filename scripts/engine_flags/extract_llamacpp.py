"""llama-server's options, read from llama.cpp's own option table (`common/arg.cpp`).

llama.cpp has no parser we can run without building it (12 minutes on 2 cores), but its parser is
data: every option is one `add_opt(common_arg({flags}, [{negated flags},] [hint,] help, handler)
.set_examples({...}).set_excludes({...}).set_env(...))` call in `common_params_parser_init`, and
`common_params_parse_ex` looks a command-line word up in exactly those flag lists. This reads every
such call of the pinned source and keeps the options `llama-server` gets, with the same rule the
C++ `add_opt` lambda applies:

    (arg.in_example(SERVER) || arg.in_example(COMMON)) && !arg.is_exclude(SERVER)

(`examples` defaults to {COMMON}). What each option takes comes from its handler's signature,
which picks the `common_arg` constructor: `(params)` a switch, `(params, bool)` a switch with a
negated spelling, `(params, int)` an integer, `(params, const std::string &)` one value,
`(params, string, string)` two values. `set_preset_only()` options are not command-line options.

    python extract_llamacpp.py path/to/common/arg.cpp > options.json

The engine image's real `llama-server --help` is compared with this output in the engine e2e.
"""

from __future__ import annotations

import json
import re
import sys

EXAMPLE = "LLAMA_EXAMPLE_SERVER"
COMMON = "LLAMA_EXAMPLE_COMMON"
_HANDLER = re.compile(r"\[\]\s*\(\s*common_params\s*&\s*(?:/\*\s*params\s*\*/|params)?\s*(?P<rest>[^)]*)\)")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _matching(text: str, start: int) -> int:
    """Index of the bracket closing the one at `start`, skipping strings, chars and comments."""
    pairs = {"(": ")", "{": "}", "[": "]"}
    stack = [pairs[text[start]]]
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == '"' or ch == "'":
            i += 1
            while text[i] != ch:
                i += 2 if text[i] == "\\" else 1
        elif text.startswith("//", i):
            i = text.index("\n", i)
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 1
        elif ch in pairs:
            stack.append(pairs[ch])
        elif ch in ")}]":
            if ch != stack.pop():
                raise ValueError(f"unbalanced {ch!r} at {i}")
            if not stack:
                return i
        i += 1
    raise ValueError(f"no closing bracket for {start}")


def _without_comments(source: str) -> str:
    """The source with // and /* */ comments blanked (strings kept), so no comment reads as code."""
    out, i = [], 0
    while i < len(source):
        ch = source[i]
        if ch in "\"'":
            end = i + 1
            while source[end] != ch:
                end += 2 if source[end] == "\\" else 1
            out.append(source[i:end + 1])
            i = end + 1
        elif source.startswith("//", i):
            i = source.index("\n", i)
        elif source.startswith("/*", i):
            i = source.index("*/", i) + 2
            out.append(" ")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _other_examples_blocks(body: str) -> list[range]:
    """Spans of `if (ex == X) {...} else {...}` that llama-server does not run: the `if` block for
    another X, the `else` block for X = SERVER (how `-np` gets its server-only help text)."""
    skipped = []
    for match in re.finditer(r"\bif \(ex == (LLAMA_EXAMPLE_\w+)\) \{", body):
        then_end = _matching(body, match.end() - 1)
        after = body[then_end + 1:]
        otherwise = re.match(r"\s*else \{", after)
        if match.group(1) != EXAMPLE:
            skipped.append(range(match.start(), then_end))
        elif otherwise:
            else_open = then_end + 1 + otherwise.end() - 1
            skipped.append(range(else_open, _matching(body, else_open)))
    return skipped


def _calls(source: str):
    """The text inside every `add_opt(...)` of the parser's init function that llama-server runs."""
    source = _without_comments(source)
    body_start = source.index("common_params_context common_params_parser_init(")
    body_end = _matching(source, source.index("{", source.index(")", body_start)))
    body = source[body_start:body_end]
    skipped = _other_examples_blocks(body)
    for match in re.finditer(r"\badd_opt\(", body):
        open_at = match.end() - 1
        if any(open_at in span for span in skipped):
            continue
        yield body[open_at + 1:_matching(body, open_at)]


def _flag_lists(call: str) -> tuple[list[str], list[str]]:
    """The positive and (when present) negated flag lists: the leading `{...}` arguments."""
    inner = call[call.index("common_arg(") + len("common_arg("):]
    lists = []
    rest = inner.lstrip()
    while rest.startswith("{"):
        close = _matching(rest, 0)
        lists.append(_STRING.findall(rest[:close]))
        rest = rest[close + 1:].lstrip().removeprefix(",").lstrip()
    if not lists:
        raise ValueError(f"an option without a flag list: {call[:120]!r}")
    return lists[0], (lists[1] if len(lists) > 1 else [])


def _kind(call: str) -> tuple[int, str | None]:
    """(values taken, their type) from the handler's parameter list."""
    handler = _HANDLER.search(call)
    if handler is None:
        raise ValueError(f"no handler lambda in {call[:120]!r}")
    params = [p for p in handler.group("rest").split(",") if p.strip()]
    if not params:
        return 0, None
    if len(params) == 2:
        return 2, "str"
    kind = params[0].replace("const", "").split()[0]
    return {"bool": (0, "bool"), "int": (1, "int")}.get(kind, (1, "str"))


def _chained(call: str, method: str) -> list[str]:
    match = re.search(rf"\.{method}\(\s*\{{([^}}]*)\}}\s*\)", call)
    return [name.strip() for name in match.group(1).split(",") if name.strip()] if match else []


def describe(source: str) -> dict:
    options: dict[str, dict] = {}
    for call in _calls(source):
        examples = _chained(call, "set_examples") or [COMMON]
        if ".set_preset_only()" in call or EXAMPLE in _chained(call, "set_excludes"):
            continue
        if EXAMPLE not in examples and COMMON not in examples:
            continue
        flags, negated = _flag_lists(call)
        nargs, kind = _kind(call)
        dest = next((f for f in flags if f.startswith("--")), flags[0]).lstrip("-").replace("-", "_")
        env = re.search(r'\.set_env\("([^"]+)"\)', call)
        for flag_list, action in ((flags, "store_true" if kind == "bool" else "store"),
                                  (negated, "store_false")):
            if nargs and action != "store":
                continue  # only switches have a negated spelling
            entry = {"dest": dest, "action": action if kind == "bool" or nargs else "store_true",
                     "nargs": nargs, "type": kind if nargs else None}
            if env:
                entry["env"] = env.group(1)
            for flag in flag_list:
                if flag in options:
                    raise ValueError(f"{flag} is defined twice for llama-server")
                options[flag] = entry
    return options


def main() -> None:
    source = open(sys.argv[1], encoding="utf-8").read()
    json.dump(describe(source), sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
