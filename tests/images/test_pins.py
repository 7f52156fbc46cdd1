"""Every version an image depends on is pinned, and pinned once: in images/versions.yaml."""

from __future__ import annotations

import re

import pytest
import yaml

from leviathan import versions
from tests.images.dockerfile import IMAGES, Dockerfile

BUILT = versions.built_images()
CONTEXTS = sorted({pin.context for pin in BUILT.values()})

# ARG names that pin something: a version, commit, tag, digest, base image, URL, GPU arch list or a
# build switch. Such an ARG must have its value in versions.yaml.
PINNING_ARG = re.compile(r"(VERSION|COMMIT|_TAG|SHA256|_IMAGE|_URL|ARCH|_BUILD|FLAVOUR|CPU_INSTRUCT|^USE_)")
HEX40 = re.compile(r"^[0-9a-f]{40}$")


def _dockerfile(context: str) -> Dockerfile:
    return Dockerfile.read(IMAGES / context / "Dockerfile")


def _entries(context: str) -> list[versions.ImagePin]:
    return [pin for pin in BUILT.values() if pin.context == context]


def _resolve(text: str, defaults: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), text)


@pytest.mark.parametrize("context", CONTEXTS)
def test_version_args_default_to_versions_yaml(context):
    df = _dockerfile(context)
    declared = df.arg_defaults()
    for pin in _entries(context):
        for name, value in pin.args.items():
            if pin.flavour and name in ("KT_CPU_FLAVOUR",) and value != next(iter(declared[name])):
                continue  # the flavour arg is what differs between the entries of one Dockerfile
            assert name in declared, f"{pin.name}: versions.yaml pins {name}, but {df.path} has no ARG {name}"
            assert declared[name] == {value}, \
                f"{df.path}: ARG {name} defaults to {sorted(declared[name])}, versions.yaml ({pin.name}) says {value!r}"


@pytest.mark.parametrize("context", CONTEXTS)
def test_every_pinning_arg_is_in_versions_yaml(context):
    pinned = set().union(*(pin.args for pin in _entries(context)))
    for name, default, ins in _dockerfile(context).args():
        if PINNING_ARG.search(name):
            assert name in pinned, f"{context}/Dockerfile:{ins.line}: ARG {name} pins a version but is not in versions.yaml"
            assert default is not None, f"{context}/Dockerfile:{ins.line}: ARG {name} has no default"


@pytest.mark.parametrize("context", CONTEXTS)
def test_flavour_entries_differ_only_in_the_flavour(context):
    entries = _entries(context)
    first = dict(entries[0].args)
    for pin in entries[1:]:
        differing = {k for k in set(first) | set(pin.args) if first.get(k) != pin.args.get(k)}
        assert differing <= {"KT_CPU_FLAVOUR"}, f"{pin.name} and {entries[0].name} disagree on {differing}"


@pytest.mark.parametrize("context", CONTEXTS)
def test_base_images_are_tagged_and_never_latest(context):
    df = _dockerfile(context)
    defaults = {name: next(iter(values)) for name, values in df.arg_defaults().items()}
    stages = set(df.stages())
    for ins in df.of("FROM"):
        image = _resolve(ins.value.split()[0], defaults)
        if image in stages:
            continue
        assert "$" not in image, f"{df.path}:{ins.line}: FROM {ins.value} does not resolve from ARG defaults"
        name, _, tag = image.rpartition(":")
        assert name and tag and "/" not in tag, f"{df.path}:{ins.line}: {image} has no tag"
        assert tag != "latest" and "latest" not in image.split("@")[0].split(":")[-1]


def test_no_latest_anywhere_in_pins():
    def scalars(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from scalars(value)
        elif isinstance(node, list):
            for value in node:
                yield from scalars(value)
        else:
            yield str(node)

    every_value = list(scalars(yaml.safe_load((IMAGES / "versions.yaml").read_text())))
    assert every_value and not [v for v in every_value if re.search(r"(^|:)latest$", v)]
    for pin in versions.images().values():
        assert pin.tag != "latest"
        assert all(":latest" not in str(value) for value in pin.args.values())
    for path in IMAGES.glob("*/Dockerfile"):
        assert ":latest" not in path.read_text(), path


@pytest.mark.parametrize("context", CONTEXTS)
def test_git_clones_are_pinned_to_a_tag_and_verified_against_a_commit(context):
    df = _dockerfile(context)
    pinned = dict(_entries(context)[0].args)
    for ins in df.of("RUN"):
        for clone in re.finditer(r"git clone[^&;|]*", ins.value):
            branch = re.search(r"--branch[= ]\"?\$\{?(\w+)\}?\"?", clone.group(0))
            assert branch, f"{df.path}:{ins.line}: git clone without --branch <pinned tag>: {clone.group(0)}"
            assert branch.group(1) in pinned, f"{df.path}:{ins.line}: --branch ${branch.group(1)} not in versions.yaml"
            commit = re.search(r"rev-parse HEAD\)\"?\s*=\s*\"?\$\{?(\w+_COMMIT)\}?", ins.value)
            assert commit, f"{df.path}:{ins.line}: the clone is not checked against a pinned *_COMMIT"
            assert HEX40.match(pinned[commit.group(1)]), f"{commit.group(1)} must be a full 40-hex commit"
        assert "git checkout" not in ins.value or re.search(r"git checkout\s+\"?\$\{?\w+_COMMIT", ins.value), \
            f"{df.path}:{ins.line}: git checkout of something other than a pinned commit"


def test_llama_cpp_is_fetched_by_checksum_not_cloned():
    df = _dockerfile("llama-cpp")
    adds = df.of("ADD")
    assert len(adds) == 1 and "--checksum=sha256:${LLAMA_CPP_PYTHON_SDIST_SHA256}" in adds[0].value
    assert not any("git clone" in ins.value for ins in df.of("RUN"))
    args = versions.image("llama-cpp-cuda").args
    assert HEX40.match(args["LLAMA_CPP_COMMIT"]) and re.fullmatch(r"[0-9a-f]{64}", args["LLAMA_CPP_PYTHON_SDIST_SHA256"])
    assert args["LLAMA_CPP_PYTHON_SDIST_URL"].endswith(f"llama_cpp_python-{args['LLAMA_CPP_PYTHON_VERSION']}.tar.gz")


def test_pip_installs_name_exact_versions():
    for context in CONTEXTS:
        df = _dockerfile(context)
        for ins in df.of("RUN"):
            for call in re.finditer(r"pip install ([^&;|]*)", ins.value):
                words = [w.strip('"') for w in call.group(1).split()]
                skip_next = False
                for word in words:
                    if skip_next:
                        skip_next = False
                        continue
                    if word in ("-r", "--requirement", "--extra-index-url", "--index-url"):
                        skip_next = True
                        continue
                    if word.startswith("-") or word in (".",) or "/" in word:
                        continue
                    assert "==" in word, f"{df.path}:{ins.line}: pip install {word} is not pinned with =="


def test_model_downloader_requirements_are_hash_pinned_and_match_versions_yaml():
    text = (IMAGES / "model-downloader" / "requirements.txt").read_text()
    reqs = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", text, re.MULTILINE)
    assert ("huggingface-hub", versions.image("model-downloader").args["HUGGINGFACE_HUB_VERSION"]) in reqs
    blocks = re.split(r"\n(?=[A-Za-z])", text.split("\n\n", 1)[1].strip())
    assert len(blocks) == len(reqs)
    for block in blocks:
        assert "--hash=sha256:" in block, f"requirement without a hash: {block.splitlines()[0]}"


def test_no_invented_build_variables():
    # The seeds set ENABLE_DEEPGEMM, which exists nowhere in ktransformers (engines.md §1.6).
    for path in IMAGES.glob("*/Dockerfile"):
        assert "ENABLE_DEEPGEMM" not in path.read_text().replace("SGLANG_ENABLE_JIT_DEEPGEMM", ""), path


def test_ktransformers_uses_the_real_build_variables_from_versions_yaml():
    df = _dockerfile("ktransformers")
    build = " ".join(i.value for i in df.of("RUN"))
    for var in ("USE_BALANCE_SERVE", "KTRANSFORMERS_FORCE_BUILD", "TORCH_CUDA_ARCH_LIST"):
        assert f'{var}="${{{var}}}"' in build, f"the compile step does not pass {var}"
    # CMake tests `if(DEFINED ENV{USE_NUMA})`: "0" would turn NUMA on, so it must be unset unless "1".
    assert 'if [ "${USE_NUMA}" = "1" ]; then export USE_NUMA=1; else unset USE_NUMA; fi' in build
    assert 'USE_NUMA="${USE_NUMA}"' not in build
    # The ISA comes from the flavour (pin-isa.sh + CPU_INSTRUCT derived from it), never the build host.
    assert 'pin-isa.sh "${KT_CPU_FLAVOUR}"' in build and 'PATH="/opt/isa-bin:${PATH}"' in build
    assert "avx512) cpu_instruct=AVX512" in build and "amx) cpu_instruct=FANCY" in build
    assert versions.image("ktransformers").args["KTRANSFORMERS_TAG"] == "v0.4.1"


def test_raw_yaml_entries_have_the_chart_keys():
    raw = yaml.safe_load((IMAGES / "versions.yaml").read_text())["images"]
    for name, entry in raw.items():
        assert {"repository", "tag", "appVersion", "args"} <= set(entry), name
