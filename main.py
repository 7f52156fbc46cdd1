#!/usr/bin/env python3
"""cdk8s app entry point (`cdk8s.yaml`, `make synth`): write charts/ and rendered/."""

import os
import sys

# jsii 1.142 prints a multi-line end-of-life banner on Node 20 (the machine's Node); keep output clean.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from leviathan.synth import synth  # noqa: E402

if __name__ == "__main__":
    synth()
    sys.exit(0)
