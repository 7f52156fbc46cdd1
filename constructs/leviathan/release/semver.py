"""Chart versions (strict semver MAJOR.MINOR.PATCH) and the size of a bump between two of them.

Charts are released without pre-release or build suffixes: every recorded version is a release
that users pin, so `1.4.2` is the whole grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


class Level(IntEnum):
    """How big a change is, or how big a bump: ordered so that `max()` picks the larger."""

    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> "Version":
        match = _SEMVER.match(str(text))
        if not match:
            raise ValueError(f"{text!r} is not a MAJOR.MINOR.PATCH chart version")
        return cls(*(int(part) for part in match.groups()))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def bump(self, level: Level) -> "Version":
        """The smallest version above this one that is a `level` bump."""
        if level is Level.MAJOR:
            return Version(self.major + 1, 0, 0)
        if level is Level.MINOR:
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)


def bump_level(old: Version, new: Version) -> Level:
    """The size of the step old -> new (NONE when it is not a step up). The policy applies to 0.x
    charts as well: a breaking change there needs 1.0.0, not 0.(y+1).0."""
    if new <= old:
        return Level.NONE
    if new.major != old.major:
        return Level.MAJOR
    if new.minor != old.minor:
        return Level.MINOR
    return Level.PATCH
