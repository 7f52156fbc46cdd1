"""A small Dockerfile reader for the image checks: instructions, stages, ARG defaults, RUN scripts.

Not a full parser: enough for the Dockerfiles under images/ (line continuations, comments, parser
directives, `ARG NAME=default`, `FROM image AS stage`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "images"


@dataclass
class Instruction:
    keyword: str  # upper-case, e.g. "RUN"
    value: str    # everything after the keyword, continuations joined
    line: int     # 1-based line of the keyword
    stage: str | None  # name (or index) of the stage it belongs to; None before the first FROM


@dataclass
class Dockerfile:
    path: Path
    instructions: list[Instruction] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> "Dockerfile":
        df = cls(path)
        stage: str | None = None
        pending: list[str] = []
        start = 0
        for number, raw in enumerate(path.read_text().splitlines(), start=1):
            stripped = raw.strip()
            if not pending and (not stripped or stripped.startswith("#")):
                continue
            if pending and stripped.startswith("#"):
                continue  # comment lines inside a continued instruction
            if not pending:
                start = number
            pending.append(stripped[:-1] if stripped.endswith("\\") else stripped)
            if stripped.endswith("\\"):
                continue
            keyword, _, value = " ".join(pending).partition(" ")
            pending = []
            keyword = keyword.upper()
            if keyword == "FROM":
                match = re.search(r"\s+AS\s+(\S+)\s*$", value, re.IGNORECASE)
                stage = match.group(1) if match else str(sum(i.keyword == "FROM" for i in df.instructions))
            df.instructions.append(Instruction(keyword, value.strip(), start, stage))
        return df

    def of(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def args(self) -> list[tuple[str, str | None, Instruction]]:
        """Every ARG as (name, default or None, instruction); one ARG per instruction here."""
        found = []
        for ins in self.of("ARG"):
            name, sep, default = ins.value.partition("=")
            found.append((name.strip(), default.strip().strip('"') if sep else None, ins))
        return found

    def arg_defaults(self) -> dict[str, set[str]]:
        """ARG name -> the set of defaults it is declared with (across stages)."""
        out: dict[str, set[str]] = {}
        for name, default, _ in self.args():
            if default is not None:
                out.setdefault(name, set()).add(default)
        return out

    def stages(self) -> list[str]:
        return [i.stage for i in self.of("FROM") if i.stage]


def engine_dockerfiles() -> list[Path]:
    return sorted(IMAGES.glob("*/Dockerfile"))
