"""``python -m leviathan_e2e.backends.local up|down|status|leftovers|logs DEST|load-image TAR``"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .backend import LocalBackend


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m leviathan_e2e.backends.local",
                                 description="Drive the local e2e cluster by hand.")
    ap.add_argument("--name", default=os.environ.get("LEVIATHAN_E2E_CLUSTER", "local"))
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start (or reuse with --reuse) the cluster")
    up.add_argument("--reuse", action="store_true")
    sub.add_parser("down", help="stop and clean up everything")
    sub.add_parser("status", help="print process/node status as JSON")
    sub.add_parser("leftovers", help="list anything of ours left on the host")
    lg = sub.add_parser("logs", help="collect logs and diagnostics into DEST")
    lg.add_argument("dest", type=Path)
    li = sub.add_parser("load-image", help="import an image tarball into containerd")
    li.add_argument("archive", type=Path)
    args = ap.parse_args(argv)

    b = LocalBackend(name=args.name)
    if args.cmd == "up":
        b.up(reuse=args.reuse)
    elif args.cmd == "down":
        b.down()
    elif args.cmd == "status":
        print(json.dumps(b.status(), indent=2))
    elif args.cmd == "leftovers":
        left = b.leftovers()
        print("\n".join(left) if left else "nothing left")
        return 1 if left else 0
    elif args.cmd == "logs":
        print(b.collect_logs(args.dest))
    elif args.cmd == "load-image":
        b.load_image(args.archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
