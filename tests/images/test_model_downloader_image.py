"""The e2e model-downloader image (images/model-downloader/build.py): Debian's Python + the pinned wheels.

Checks the Debian dependency closure logic on its own, then the built image: it honours the Dockerfile's
contract (CMD, USER, WORKDIR, ENV), carries every pinned wheel at its pinned version, every shared library
any ELF file in it asks for, and, run in a chroot as the Job's UID, downloads from the loopback fake Hub.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from leviathan_e2e.debian import PackageInfo, dependency_closure, elf_deps, parse_depends, unresolved_libraries

from .dockerfile import Dockerfile
from .image_scripts import load_image_script, read_image_archive

REPO = Path(__file__).resolve().parents[2]
HERE = REPO / "images" / "model-downloader"
PAYLOAD = REPO / "constructs" / "leviathan" / "payloads" / "hf_download.py"
sys.path.insert(0, str(REPO / "tests" / "payloads"))

from fake_hf_hub import (DEEPSEEK_COMMIT, DEEPSEEK_REPO, deepseek_files,  # noqa: E402
                         serve_fake_hub)


# ---------------------------------------------------------------- closure logic (no apt involved)


def test_parse_depends_keeps_names_and_alternatives():
    assert parse_depends("libc6 (>= 2.34), media-types | mime-support, python3:any (>= 3.9~) [amd64]") == (
        ("libc6",), ("media-types", "mime-support"), ("python3",))
    assert parse_depends("") == ()


def _fake_apt(records: dict[str, tuple[bool, str]]):
    def infos(names):
        return {name: PackageInfo(name, "1.0", records[name][0], parse_depends(records[name][1]))
                if name in records else None for name in names}
    return infos


def test_closure_takes_the_first_installable_alternative_and_leaves_essential_out():
    apt = _fake_apt({
        "python": (False, "libc, media-types | mime-support, virtual-only | zlib, readline-common"),
        "libc": (False, "libgcc"), "libgcc": (False, ""), "media-types": (False, ""),
        "mime-support": (False, "perl"), "perl": (False, ""), "zlib": (False, "libc"),
        "readline-common": (False, "dpkg | install-info"), "dpkg": (True, "tar"), "tar": (True, ""),
    })
    closure = dependency_closure(["python"], infos=apt)
    assert list(closure.packages) == ["libc", "libgcc", "media-types", "python", "readline-common", "zlib"]
    assert closure.essential == ("dpkg",)


def test_closure_fails_when_no_alternative_is_installable():
    with pytest.raises(RuntimeError, match="depends on gone-a | gone-b"):
        dependency_closure(["x"], infos=_fake_apt({"x": (False, "gone-a | gone-b")}))


# ---------------------------------------------------------------- the built image


@pytest.fixture(scope="module")
def build():
    return load_image_script("model-downloader/build.py")


@pytest.fixture(scope="module")
def archive(build, tmp_path_factory):
    return build.build_image(tmp_path_factory.mktemp("model-downloader-image"))


@pytest.fixture(scope="module")
def image(archive):
    contents = read_image_archive(archive.path)
    config, layer = contents.config, contents.layer
    files = {m.name: layer.extractfile(m).read() for m in layer.getmembers() if m.isfile()}
    links = {m.name: m.linkname for m in layer.getmembers() if m.issym()}
    return config["config"], files, links, layer


def test_config_matches_the_dockerfile_contract(build, archive, image):
    config, _, _, _ = image
    dockerfile = Dockerfile.read(HERE / "Dockerfile")
    runtime = [i for i in dockerfile.instructions if i.stage == "runtime"]
    (cmd,) = [i.value for i in runtime if i.keyword == "CMD"]
    (user,) = [i.value for i in runtime if i.keyword == "USER"]
    (workdir,) = [i.value for i in runtime if i.keyword == "WORKDIR"]
    (env,) = [i.value for i in runtime if i.keyword == "ENV"]
    assert config["Cmd"] == json.loads(cmd) and config["User"] == user and config["WorkingDir"] == workdir
    assert "Entrypoint" not in config  # the chart's `command: [python, /scripts/hf_download.py]` replaces CMD
    image_env = dict(e.split("=", 1) for e in config["Env"])
    for key, value in (pair.split("=", 1) for pair in env.split()):
        if value.endswith(":$PATH"):
            assert image_env[key].startswith(value.removesuffix("$PATH")), (key, image_env[key])
        else:
            assert image_env[key] == value, key
    assert archive.ref == build.image_ref() and not archive.ref.endswith(":latest")
    assert archive.ref.startswith("leviathan/model-downloader-e2e:hfhub2.4.0-")


def test_python_is_a_venv_like_the_real_image(build, image):
    _, files, links, layer = image
    assert links["opt/venv/bin/python"] == "/usr/bin/python3.11" and "usr/bin/python3.11" in files
    assert b"include-system-site-packages = false" in files["opt/venv/pyvenv.cfg"]
    assert "scripts/hf_download.py" not in files  # the chart mounts the payload, as with the real image
    assert layer.getmember("tmp").mode == 0o1777 and layer.getmember("home/downloader").mode == 0o775
    assert b"downloader:x:1000:0:" in files["etc/passwd"]


def test_every_pinned_wheel_is_installed_at_its_version(build, image):
    _, files, _, _ = image
    pins = dict(re.findall(r"^([a-z0-9_.-]+)==(\S+)", (HERE / "requirements.txt").read_text(), re.MULTILINE))
    site = "opt/venv/lib/python3.11/site-packages/"
    installed = {}
    for path, data in files.items():
        if path.startswith(site) and path.endswith(".dist-info/METADATA"):
            fields = dict(re.findall(r"^(Name|Version): (\S+)", data.decode(), re.MULTILINE))
            installed[re.sub(r"[-_.]+", "-", fields["Name"]).lower()] = fields["Version"]
    assert installed == pins
    assert not [p for p in files if p.startswith(site + "bin/") or p.endswith(".pyc")]


def test_the_debian_closure_is_what_the_label_lists_and_nothing_else(build, image):
    config, files, _, _ = image
    closure = build.debian_closure()
    label = config["Labels"]["io.leviathan.debian-packages"]
    assert label == " ".join(f"{p}={v}" for p, v in closure.packages.items())
    assert {"python3.11-minimal", "libpython3.11-stdlib", "libc6", "libssl3"} <= set(closure.packages)
    # alternatives not taken and Essential packages stay out
    assert not {"mime-support", "perl", "dpkg", "tar"} & set(closure.packages)
    assert not [p for p in files if p.startswith(("usr/share/doc/", "usr/share/man/"))]


def test_every_shared_library_the_image_asks_for_is_in_it(image):
    _, files, links, _ = image
    python = elf_deps(files["usr/bin/python3.11"])
    assert python.interpreter == "/lib64/ld-linux-x86-64.so.2" and "libc.so.6" in python.needed
    assert unresolved_libraries(files, links) == []
    # ... and the check can fail: without libssl, the ssl module's extension has nothing to load.
    without_ssl = {p: d for p, d in files.items() if "libssl.so" not in p}
    assert any(problem.endswith(": libssl.so.3") for problem in unresolved_libraries(without_ssl, links))


@pytest.fixture(scope="module")
def rootfs(image, tmp_path_factory):
    if os.geteuid() != 0 or not Path("/usr/sbin/chroot").exists():
        pytest.skip("running the image in a chroot needs root")
    _, _, _, layer = image
    root = tmp_path_factory.mktemp("rootfs")
    layer.extractall(root)
    root.chmod(0o755)  # the image's "/" (mktemp made it 0700)
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")  # the kubelet provides it in a pod
    shutil.copy(PAYLOAD, root / "scripts" / "hf_download.py")  # as the chart's ConfigMap mount does
    (root / "models").mkdir()
    os.chown(root / "models", 1000, 0)
    return root


def test_the_payload_downloads_in_the_image_as_the_jobs_user(image, rootfs):
    config, _, _, _ = image
    with serve_fake_hub() as hub:
        hub.add_repo(DEEPSEEK_REPO, DEEPSEEK_COMMIT, deepseek_files())
        hub.required_token = "hf_image_test"
        env = dict(e.split("=", 1) for e in config["Env"])
        env.update(HF_ENDPOINT=hub.url, HF_HOME="/tmp/hf-home", DOWNLOAD_ROOT="/models", HF_TOKEN="hf_image_test",
                   DOWNLOAD_FREE_SPACE_MARGIN_GIB="0", HF_HUB_DISABLE_PROGRESS_BARS="1",
                   DOWNLOAD_SOURCES=json.dumps([{"repo": DEEPSEEK_REPO, "allowPatterns": ["DeepSeek-V3-Q4_K_M/*"],
                                                 "subdir": "gguf"}]))
        result = subprocess.run(["/usr/sbin/chroot", "--userspec=1000:0", str(rootfs), *config["Cmd"]],
                                env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "download complete: 3 file(s)" in result.stdout
    want = {p: d for p, d in deepseek_files().items() if p.startswith("DeepSeek-V3-Q4_K_M/")}
    for path, data in want.items():
        assert (rootfs / "models" / "gguf" / path).read_bytes() == data
    assert json.loads((rootfs / "models" / "gguf" / ".leviathan-complete.json").read_text())["fileCount"] == 3
