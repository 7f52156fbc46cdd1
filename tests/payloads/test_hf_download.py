"""Runs the real model-download payload (constructs/leviathan/payloads/hf_download.py) as the Job does, as a
subprocess, against the fake Hub of fake_hf_hub.py on 127.0.0.1. Nothing here talks to huggingface.co."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_hf_hub import DEEPSEEK_COMMIT, DEEPSEEK_REPO, FakeHub, FakeRepo, deepseek_files, make_bytes, serve_fake_hub

SCRIPT = Path(__file__).resolve().parents[2] / "constructs" / "leviathan" / "payloads" / "hf_download.py"
Q4_PATTERN = ["DeepSeek-V3-Q4_K_M/*"]
SUBDIR = "deepseek-v3-gguf"
PROGRESS_RE = re.compile(r"progress: \S+ \S+ / \S+ \S+ \((?P<percent>\d+\.\d)%\), \S+ \S+/s, ETA \S+")


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    with serve_fake_hub() as hub:
        yield hub


@pytest.fixture
def deepseek(fake_hub: FakeHub) -> FakeRepo:
    return fake_hub.add_repo(DEEPSEEK_REPO, DEEPSEEK_COMMIT, deepseek_files())


def deepseek_source(**overrides) -> dict:
    return {"repo": DEEPSEEK_REPO, "revision": "main", "allowPatterns": Q4_PATTERN, "subdir": SUBDIR, **overrides}


def downloader_env(hub, root: Path, sources: list[dict], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE", "DOWNLOAD_"))}
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(root.parent / "hf-home"),  # must stay empty: the Job needs no writable HOME
        DOWNLOAD_ROOT=str(root),
        DOWNLOAD_SOURCES=json.dumps(sources),
        DOWNLOAD_PROGRESS_SECONDS="0.1",
        DOWNLOAD_FREE_SPACE_MARGIN_GIB="0",
    )
    env.update(extra)
    return env


def run_downloader(hub, root: Path, sources: list[dict], **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT)],
        env=downloader_env(hub, root, sources, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


def wanted_paths(repo) -> list[str]:
    return sorted(p for p in repo.files if p.startswith("DeepSeek-V3-Q4_K_M/"))


def model_root(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    root.mkdir(parents=True)
    return root


def test_downloads_only_the_allowed_quant_and_writes_marker(fake_hub, deepseek, tmp_path):
    root = model_root(tmp_path)

    result = run_downloader(fake_hub, root, [deepseek_source()])

    assert result.returncode == 0, result.stderr
    local_dir = root / SUBDIR
    on_disk = sorted(str(p.relative_to(local_dir)) for p in local_dir.rglob("*") if p.is_file())
    assert on_disk == sorted(wanted_paths(deepseek) + [".leviathan-complete.json"])
    for path in wanted_paths(deepseek):
        assert (local_dir / path).read_bytes() == deepseek.files[path], path
    requested = " ".join(r.path for r in fake_hub.requests)
    assert "Q2_K" not in requested and "Q8_0" not in requested and "README" not in requested

    marker = json.loads((local_dir / ".leviathan-complete.json").read_text())
    assert marker["repo"] == DEEPSEEK_REPO
    assert marker["revision"] == "main"
    assert marker["commit"] == DEEPSEEK_COMMIT
    assert marker["fileCount"] == 3
    assert marker["totalBytes"] == sum(len(deepseek.files[p]) for p in wanted_paths(deepseek))
    # Downloads are pinned to the commit the listing came from, never to the moving branch.
    assert all(f"/resolve/{DEEPSEEK_COMMIT}/" in r.path for r in fake_hub.file_requests() if "/resolve/" in r.path)
    assert not (tmp_path / "hf-home").exists()


def test_second_run_is_a_noop_without_file_requests(fake_hub, deepseek, tmp_path):
    root = model_root(tmp_path)
    assert run_downloader(fake_hub, root, [deepseek_source()]).returncode == 0
    shard = root / SUBDIR / wanted_paths(deepseek)[0]
    first_mtime = shard.stat().st_mtime_ns
    fake_hub.requests.clear()

    result = run_downloader(fake_hub, root, [deepseek_source()])

    assert result.returncode == 0, result.stderr
    assert "already complete" in result.stdout
    assert fake_hub.file_requests() == []
    assert [r.path for r in fake_hub.requests] == [f"/api/models/{DEEPSEEK_REPO}/revision/main"]
    assert shard.stat().st_mtime_ns == first_mtime


def test_interrupted_download_resumes_with_a_range_request(fake_hub, tmp_path):
    # Bigger than huggingface_hub's 10 MiB write chunk, so the killed run leaves bytes on disk.
    big = "DeepSeek-V3-Q4_K_M/DeepSeek-V3-Q4_K_M-00001-of-00001.gguf"
    content = make_bytes(12 * 1024 * 1024, "big")
    fake_hub.add_repo(DEEPSEEK_REPO, DEEPSEEK_COMMIT, {big: content})
    root = model_root(tmp_path)
    fake_hub.stall_after_bytes = 11 * 1024 * 1024
    first = subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        env=downloader_env(fake_hub, root, [deepseek_source()]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    partial = wait_for_partial_file(root / SUBDIR, min_bytes=10 * 1024 * 1024)
    first.send_signal(signal.SIGKILL)  # what a node drain or OOM kill does to the pod
    first.wait()
    kept = partial.stat().st_size
    assert not (root / SUBDIR / big).exists()
    fake_hub.stall_after_bytes = None
    fake_hub.requests.clear()

    # Exactly the bytes still missing are free: passes only if the kept partial bytes count as present.
    result = run_downloader(fake_hub, root, [deepseek_source()], DOWNLOAD_FAKE_FREE_BYTES=str(len(content) - kept))

    assert result.returncode == 0, result.stderr
    assert f"resuming at {kept} of {len(content)} bytes" in result.stdout
    [get] = fake_hub.content_gets()
    assert get.headers.get("range") == f"bytes={kept}-"
    assert get.bytes_sent == len(content) - kept
    assert (root / SUBDIR / big).read_bytes() == content
    assert not partial.exists()


def wait_for_partial_file(local_dir: Path, min_bytes: int, timeout: float = 20.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for candidate in local_dir.rglob("*.part"):
            if candidate.stat().st_size >= min_bytes:
                return candidate
        time.sleep(0.02)
    raise AssertionError(f"no partial file of >= {min_bytes} bytes appeared under {local_dir}")


def test_progress_is_logged_as_plain_lines_while_downloading(fake_hub, deepseek, tmp_path):
    fake_hub.bytes_per_write, fake_hub.seconds_per_write = 64 * 1024, 0.04  # ~0.7 s for the largest shard

    result = run_downloader(fake_hub, model_root(tmp_path), [deepseek_source()])

    assert result.returncode == 0, result.stderr
    percents = [float(m["percent"]) for m in PROGRESS_RE.finditer(result.stdout)]
    assert len(percents) >= 3, result.stdout
    assert any(0 < p < 100 for p in percents), percents  # periodic lines mid-download, not only a summary
    assert percents == sorted(percents)
    assert percents[-1] == 100.0
    assert "\r" not in result.stdout + result.stderr  # no tqdm bars
    assert "ETA" in result.stdout


def test_token_is_sent_as_bearer_to_the_hub_only_and_never_printed(fake_hub, deepseek, tmp_path):
    token = "hf_leviathanTestToken123"
    fake_hub.required_token = token

    result = run_downloader(fake_hub, model_root(tmp_path), [deepseek_source()], HF_TOKEN=token)

    assert result.returncode == 0, result.stderr
    hub_requests = [r for r in fake_hub.requests if not r.path.startswith("/cdn/")]
    cdn_requests = [r for r in fake_hub.requests if r.path.startswith("/cdn/")]
    assert hub_requests and cdn_requests
    assert all(r.headers.get("authorization") == f"Bearer {token}" for r in hub_requests)
    assert all("authorization" not in r.headers for r in cdn_requests)  # signed CDN URLs get no token
    assert token not in result.stdout + result.stderr


def test_rejected_token_fails_with_an_auth_message(fake_hub, deepseek, tmp_path):
    fake_hub.required_token = "hf_theRightToken"
    wrong = "hf_aWrongToken456"
    root = model_root(tmp_path)

    result = run_downloader(fake_hub, root, [deepseek_source()], HF_TOKEN=wrong)

    assert result.returncode != 0
    assert "authentication failed" in result.stderr
    assert "HF_TOKEN" in result.stderr and "401" in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert fake_hub.file_requests() == []
    assert not (root / SUBDIR).exists()


@pytest.mark.parametrize(
    ("source_overrides", "expected"),
    [
        ({"repo": "unsloth/No-Such-Repo"}, "repository unsloth/No-Such-Repo not found"),
        ({"repo": "meta-llama/Gated-Model"}, "meta-llama/Gated-Model is gated: accept its terms on the Hub"),
        ({"revision": "v9.9"}, "revision 'v9.9' not found in unsloth/DeepSeek-V3-GGUF"),
        ({"allowPatterns": ["*Q5_K_S*"]}, "no file in unsloth/DeepSeek-V3-GGUF@main matches"),
    ],
    ids=["unknown-repo", "gated-repo", "unknown-revision", "no-matching-file"],
)
def test_hub_lookup_failures_give_one_clear_line(fake_hub, deepseek, tmp_path, source_overrides, expected):
    fake_hub.add_repo("meta-llama/Gated-Model", "c" * 40, {"config.json": b"{}"}).gated = True

    result = run_downloader(fake_hub, model_root(tmp_path), [deepseek_source(**source_overrides)])

    assert result.returncode != 0
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # one readable line, no traceback
    assert fake_hub.file_requests() == []


def test_free_space_check_counts_only_missing_bytes_and_runs_before_downloading(fake_hub, deepseek, tmp_path):
    root = model_root(tmp_path)
    shards = wanted_paths(deepseek)
    already_there = root / SUBDIR / shards[2]
    already_there.parent.mkdir(parents=True)
    already_there.write_bytes(deepseek.files[shards[2]])  # e.g. left by the users' old download pod
    missing = len(deepseek.files[shards[0]]) + len(deepseek.files[shards[1]])

    too_little = run_downloader(fake_hub, root, [deepseek_source()], DOWNLOAD_FAKE_FREE_BYTES=str(missing - 1))

    assert too_little.returncode != 0
    assert f"not enough free space on the model volume {root}" in too_little.stderr
    assert "GiB" in too_little.stderr and "free" in too_little.stderr
    assert fake_hub.file_requests() == []

    just_enough = run_downloader(fake_hub, root, [deepseek_source()], DOWNLOAD_FAKE_FREE_BYTES=str(missing))

    assert just_enough.returncode == 0, just_enough.stderr
    downloaded = {r.path.rsplit("/", 1)[-1] for r in fake_hub.content_gets()}
    assert downloaded == {deepseek.sha256(shards[0]), deepseek.sha256(shards[1])}


def test_free_space_margin_is_required_on_top(fake_hub, deepseek, tmp_path):
    needed = sum(len(deepseek.files[p]) for p in wanted_paths(deepseek))

    result = run_downloader(
        fake_hub,
        model_root(tmp_path),
        [deepseek_source()],
        DOWNLOAD_FAKE_FREE_BYTES=str(needed + 1024**3),
        DOWNLOAD_FREE_SPACE_MARGIN_GIB="1.5",
    )

    assert result.returncode != 0
    assert "+ 1.50 GiB margin" in result.stderr
    assert fake_hub.file_requests() == []


def test_unusable_leftovers_are_replaced_or_removed(fake_hub, deepseek, tmp_path):
    root = model_root(tmp_path)
    shard = wanted_paths(deepseek)[1]
    truncated = root / SUBDIR / shard
    truncated.parent.mkdir(parents=True)
    truncated.write_bytes(deepseek.files[shard][:1000])
    # What a killed `hf download --local-dir` / snapshot_download leaves: huggingface_hub never resumes it.
    orphan = root / SUBDIR / ".cache/huggingface/download/DeepSeek-V3-Q4_K_M/x.0123abcd.17106be3.incomplete"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"\0" * 4096)

    result = run_downloader(fake_hub, root, [deepseek_source()])

    assert result.returncode == 0, result.stderr
    assert truncated.read_bytes() == deepseek.files[shard]
    assert f"{shard}: has 1000 bytes" in result.stdout
    assert not orphan.exists()


def test_multiple_sources_land_in_their_own_subdirs(fake_hub, deepseek, tmp_path):
    kimi_files = {
        "config.json": b'{"model_type": "kimi_k25"}',
        "model-00001-of-00002.safetensors": make_bytes(200 * 1024, "kimi-1"),
        "model-00002-of-00002.safetensors": make_bytes(150 * 1024, "kimi-2"),
    }
    fake_hub.add_repo("moonshotai/Kimi-K2.5", "b" * 40, kimi_files)
    root = model_root(tmp_path)
    sources = [deepseek_source(), {"repo": "moonshotai/Kimi-K2.5", "subdir": "kimi-k2.5"}]  # defaults: main, all

    result = run_downloader(fake_hub, root, sources, DOWNLOAD_MAX_WORKERS="2")

    assert result.returncode == 0, result.stderr
    for path, content in kimi_files.items():
        assert (root / "kimi-k2.5" / path).read_bytes() == content
    for path in wanted_paths(deepseek):
        assert (root / SUBDIR / path).read_bytes() == deepseek.files[path]
    kimi_marker = json.loads((root / "kimi-k2.5" / ".leviathan-complete.json").read_text())
    assert (kimi_marker["commit"], kimi_marker["fileCount"], kimi_marker["allowPatterns"]) == ("b" * 40, 3, None)
    assert (root / SUBDIR / ".leviathan-complete.json").is_file()
