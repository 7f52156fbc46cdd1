"""The real `vllm serve` parser of the installed vLLM, built the way `vllm`'s CLI main() builds it.

Runs inside the vLLM environment (`scripts/engine-flags venv vllm`), which holds the pinned vLLM
wheel with its own dependencies: nothing is stubbed. No GPU is needed to build or run the parser
(the CPU platform is selected, as vLLM's CLI does for `vllm bench` on such a machine).

    python vllm_parser.py describe            -> JSON of every option string (the flag manifest)
    python vllm_parser.py parse ARGS.json     -> parses each argv in the JSON list (as `vllm serve ARGV`,
                                                 then ServeSubcommand.validate); prints one verdict each
"""

import contextlib
import io
import json
import sys


def serve_parser():
    # Without a GPU vLLM detects no platform, and building the parser evaluates DeviceConfig's
    # default, which then fails. vLLM's own CLI main() handles this for `vllm bench` by selecting its
    # CpuPlatform; we do the same. The option strings do not depend on the platform.
    from vllm import platforms
    if platforms.current_platform.is_unspecified():
        from vllm.platforms.cpu import CpuPlatform
        platforms.current_platform = CpuPlatform()

    from vllm.entrypoints.cli.serve import ServeSubcommand
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    top = FlexibleArgumentParser(description="vLLM CLI")
    subparsers = top.add_subparsers(required=False, dest="subparser")
    command = ServeSubcommand()
    serve = command.subparser_init(subparsers)
    return top, serve, command


def main() -> None:
    # vLLM logs to stdout; keep stdout for the result.
    result, sys.stdout = sys.stdout, sys.stderr
    top, serve, command = serve_parser()
    if sys.argv[1] == "describe":
        from parser_spec import describe
        json.dump(describe(serve), result, indent=1, sort_keys=True)
        return
    verdicts = []
    for argv in json.load(open(sys.argv[2])):
        messages = io.StringIO()
        try:
            with contextlib.redirect_stderr(messages):
                args = top.parse_args(["serve", *argv])
                command.validate(args)
            verdicts.append({"argv": argv, "accepted": True, "port": args.port, "model_tag": args.model_tag})
        except SystemExit as refused:
            verdicts.append({"argv": argv, "accepted": False, "exit": refused.code, "message": messages.getvalue()})
    json.dump(verdicts, result, indent=1)

if __name__ == "__main__":
    main()
