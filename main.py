#!/usr/bin/env python3
"""cdk8s app entry point (`cdk8s.yaml`, `make synth`): write charts/ and rendered/.

    python main.py [--out DIR]    (default: the repository root)
"""

import gc

# A synth is a short batch run: nearly everything it allocates lives until exit, so the cyclic
# collector would only rescan it, again and again (about 0.15 s of a 0.9 s synth, measured with
# scripts/bench-synth). Reference counting still frees what dies; the few cycles go with the process.
gc.disable()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

# jsii 1.142 prints a multi-line end-of-life banner on Node 20 (the machine's Node); keep output clean.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from leviathan.synth import synth  # noqa: E402
from leviathan.tools import ROOT  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description="Write charts/ and rendered/ from constructs/.")
    parser.add_argument("--out", type=Path, default=ROOT,
                        help="directory that receives charts/ and rendered/ (default: %(default)s)")
    synth(parser.parse_args().out, fork_values=True)
    # The interpreter's final collections would walk the whole heap once more; frozen objects are skipped.
    gc.freeze()


if __name__ == "__main__":
    main()
    sys.exit(0)
