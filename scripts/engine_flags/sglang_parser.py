"""The real `python -m sglang.launch_server` parser of the installed sglang-kt (kvcache-ai's fork).

Runs inside the sglang-kt environment (`scripts/engine-flags venv sglang`): the pinned sglang-kt
wheel installed with --no-deps on top of the pinned vLLM environment's dependencies (torch,
transformers, fastapi, ...) plus `orjson`. Nothing is stubbed: the parser is built by sglang's own
`ServerArgs.add_cli_args`, exactly as `sglang.launch_server` does (`prepare_server_args`), and a
parse goes through `ServerArgs.from_cli_args` (every flag mapped onto the dataclass). It does not
run `ServerArgs.__post_init__`, which inspects the model directory and the GPUs.

    python sglang_parser.py describe            -> JSON of every option string (the flag manifest)
    python sglang_parser.py parse ARGS.json     -> parses each argv in the JSON list; one verdict each
"""

import argparse
import dataclasses


def launch_parser() -> argparse.ArgumentParser:
    from sglang.srt.server_args import ServerArgs

    # sglang/srt/server_args.py prepare_server_args(): the same parser launch_server uses.
    parser = argparse.ArgumentParser()
    ServerArgs.add_cli_args(parser)
    return parser


def from_cli_args(parsed: argparse.Namespace) -> dict:
    """ServerArgs.from_cli_args up to the constructor call: the same aliasing and field mapping, but
    no __post_init__ (it reads the model's config.json and probes the GPUs)."""
    from sglang.srt.server_args import ServerArgs

    parsed.tp_size = parsed.tensor_parallel_size
    parsed.pp_size = parsed.pipeline_parallel_size
    parsed.attn_cp_size = parsed.attention_context_parallel_size
    parsed.moe_dp_size = parsed.moe_data_parallel_size
    parsed.dp_size = parsed.data_parallel_size
    parsed.ep_size = parsed.expert_parallel_size
    attrs = [field.name for field in dataclasses.fields(ServerArgs) if field.init]
    return {attr: getattr(parsed, attr) for attr in attrs if hasattr(parsed, attr)}


REPORTED = ("port", "host", "model_path", "tp_size", "watchdog_timeout", "enable_metrics",
            "trust_remote_code", "served_model_name", "enable_p2p_check")


def build():
    parser = launch_parser()

    def parse(argv: list[str]) -> dict:
        args = from_cli_args(parser.parse_args(argv))
        return {"values": {k: v for k, v in args.items() if k.startswith("kt_") or k in REPORTED}}

    return parser, parse


if __name__ == "__main__":
    from parser_spec import run_cli
    run_cli(build)
