"""llama-server's flag manifest: generated from the pinned llama.cpp's own option table, never stale."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import sys

from leviathan import versions
from leviathan.engines import flag_manifest
from leviathan.synth import ROOT

sys.path.insert(0, str(ROOT / "scripts" / "engine_flags"))
import extract_llamacpp  # noqa: E402


def engine_flags_script():
    loader = importlib.machinery.SourceFileLoader("engine_flags_script", str(ROOT / "scripts" / "engine-flags"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_manifest_is_generated_from_the_pinned_sdist():
    manifest = flag_manifest.load("llamacpp")
    pins = versions.image("llama-cpp-cuda").args
    assert pins == versions.image("llama-cpp-cpu").args
    source = manifest.raw["source"]
    assert manifest.version == f"b{pins['LLAMA_CPP_BUILD']}", "llama.cpp pin moved: run scripts/engine-flags generate --only llamacpp"
    assert source["commit"] == pins["LLAMA_CPP_COMMIT"]
    assert source["package"] == f"llama-cpp-python=={pins['LLAMA_CPP_PYTHON_VERSION']}"
    assert (source["url"], source["sha256"]) == (pins["LLAMA_CPP_PYTHON_SDIST_URL"], pins["LLAMA_CPP_PYTHON_SDIST_SHA256"])
    assert manifest.raw["spelling"] == {"dashes_for_underscores": True, "dotted_sub_keys": False, "equals_values": False}


def test_regenerating_from_the_sdist_gives_the_committed_manifest():
    """Downloads the 77 MB sdist once into ~/.cache/leviathan/sdists (checksum checked)."""
    fresh = engine_flags_script().llamacpp_manifest()
    committed = json.loads((flag_manifest.MANIFESTS / "llamacpp.json").read_text())
    assert fresh == committed


def test_the_manifest_holds_llama_servers_real_options():
    options = flag_manifest.load("llamacpp").options
    for gone in ("--mlock", "--no-mmap", "--mmap", "--direct-io"):
        assert gone not in options, f"{gone} was removed at this llama.cpp commit"
    assert options["-lm"] == options["--load-mode"] and options["-lm"]["nargs"] == 1
    assert options["-t"]["type"] == "int" and options["--threads"]["dest"] == "threads"
    assert options["-np"]["type"] == "int"  # the server branch of `if (ex == LLAMA_EXAMPLE_SERVER)`
    assert options["--jinja"]["dest"] == options["--no-jinja"]["dest"] == "jinja"
    assert options["--no-jinja"]["action"] == "store_false"
    assert options["-ot"]["env"] == "LLAMA_ARG_OVERRIDE_TENSOR" and options["-ncmoe"]["type"] == "int"
    assert options["--metrics"]["nargs"] == 0 and options["-fa"]["nargs"] == 1
    # CLI-only options of other tools are not llama-server's
    assert "--verbose-prompt" not in options and "load-on-startup" not in options


SNIPPET = r'''
common_params_context common_params_parser_init(common_params & params, llama_example ex, void(*print_usage)(int, char **)) {
    add_opt(common_arg(
        {"-x", "--x-size"}, "N", "help with ) and { and // inside",
        [](common_params & params, int value) { params.x = value; }   // comment with add_opt(
    ).set_env("LLAMA_ARG_X"));
    /* add_opt(common_arg({"--commented-out"}, "", [](common_params & params) {})); */
    add_opt(common_arg(
        {"--flag"}, {"--no-flag"}, "a switch",
        [](common_params & params, bool value) { params.f = value; }
    ));
    add_opt(common_arg({"--cli-only"}, "x", [](common_params & params) {}).set_examples({LLAMA_EXAMPLE_CLI}));
    add_opt(common_arg({"--not-server"}, "x", [](common_params & params) {}).set_excludes({LLAMA_EXAMPLE_SERVER}));
    add_opt(common_arg({"--pair"}, "A", "B", "two", [](common_params & params, const std::string & a, const std::string & b) {}));
    if (ex == LLAMA_EXAMPLE_SERVER) {
        add_opt(common_arg({"-np"}, "N", "server", [](common_params & params, int value) {}).set_examples({LLAMA_EXAMPLE_SERVER}));
    } else {
        add_opt(common_arg({"-np"}, "N", "other", [](common_params & params, const std::string & value) {}));
    }
    if (ex == LLAMA_EXAMPLE_TTS) {
        add_opt(common_arg({"--tts-only"}, "x", [](common_params & params) {}));
    }
    return ctx_arg;
}
'''


def test_the_extractor_applies_llama_cpps_own_selection_rules():
    options = extract_llamacpp.describe(SNIPPET)
    assert set(options) == {"-x", "--x-size", "--flag", "--no-flag", "--pair", "-np"}
    assert options["-x"] == {"action": "store", "dest": "x_size", "env": "LLAMA_ARG_X", "nargs": 1, "type": "int"}
    assert options["--no-flag"]["action"] == "store_false" and options["--flag"]["nargs"] == 0
    assert options["--pair"]["nargs"] == 2
    assert options["-np"]["type"] == "int"
