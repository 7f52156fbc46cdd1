"""The real `vllm serve` parser of the installed vLLM, built the way `vllm`'s CLI main() builds it.

Runs inside the vLLM environment (`scripts/engine-flags venv vllm`), which holds the pinned vLLM
wheel with its own dependencies: nothing is stubbed. No GPU is needed to build or run the parser
(the CPU platform is selected, as vLLM's CLI does for `vllm bench` on such a machine).

    python vllm_parser.py describe            -> JSON of every option string (the flag manifest)
    python vllm_parser.py parse ARGS.json     -> parses each argv in the JSON list (as `vllm serve ARGV`,
                                                 then ServeSubcommand.validate); prints one verdict each
"""



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


def build():
    top, serve, command = serve_parser()

    def parse(argv: list[str]) -> dict:
        args = top.parse_args(["serve", *argv])
        command.validate(args)
        return {"port": args.port, "model_tag": args.model_tag}

    return serve, parse


if __name__ == "__main__":
    from parser_spec import run_cli
    run_cli(build)
