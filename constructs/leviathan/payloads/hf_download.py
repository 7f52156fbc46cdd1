"""Model-download Job payload: fetch Hugging Face model files onto the model volume, resumably.

The chart's model-download Job mounts this file from a ConfigMap and runs it as
`python /scripts/hf_download.py` in the `model-downloader` image. For every configured source it:

1. lists the repo's files and sizes at the requested revision (one `model_info` call) and keeps the
   ones matching `allowPatterns`, with the same matching huggingface_hub uses;
2. counts the bytes still missing (files absent or of the wrong size; partial data of an interrupted
   run counts as present) and, before downloading anything, fails if the volume lacks
   missing + margin bytes of free space;
3. exits 0 straight away when nothing is missing, so re-running the Job is a cheap no-op;
4. otherwise downloads the missing files, resuming interrupted ones with HTTP Range requests, while
   a background thread logs progress (bytes on disk, percent, rate, ETA) as plain log lines;
5. checks every file's size and writes `<DOWNLOAD_ROOT>/<subdir>/.leviathan-complete.json`.

Why not `snapshot_download`: in huggingface_hub 2.4.0 every download goes to a per-process
`<etag>.<uuid>.incomplete` temp file that is deleted on failure (and orphaned on SIGKILL), so a
restarted pod starts each multi-GB shard from zero. This script keeps partial data at a stable path
under `<subdir>/.cache/leviathan/partial/` and resumes it with huggingface_hub's own `http_get`.

Environment (all configuration comes from here):
  DOWNLOAD_ROOT                   mount path of the model volume, e.g. /models (required)
  DOWNLOAD_SOURCES                JSON list of {"repo", "revision"="main", "allowPatterns"=all, "subdir"}
  DOWNLOAD_MAX_WORKERS            files downloaded in parallel (default 8)
  DOWNLOAD_PROGRESS_SECONDS       seconds between progress lines (default 30)
  DOWNLOAD_FREE_SPACE_MARGIN_GIB  free space to leave on the volume (default 10)
  HF_TOKEN                        Hub token, from a Secret; never printed
  HF_ENDPOINT                     Hub URL, from the chart value download.endpoint (huggingface_hub reads it)
  DOWNLOAD_FAKE_FREE_BYTES        TESTS ONLY: pretend the volume has this many free bytes
"""

from __future__ import annotations

import os

# huggingface_hub reads these into module constants when imported, so they are set first.
# tqdm bars are unreadable in `kubectl logs`; this script logs its own progress lines instead.
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# Files are fetched over plain HTTP (resumable); nothing here goes through hf_xet.
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")

import json  # noqa: E402
import queue  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path, PurePosixPath  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import httpx2  # noqa: E402 - huggingface_hub 2.4.0's own HTTP client, only for its network error type
from huggingface_hub import HfApi, constants, get_hf_file_metadata, hf_hub_url  # noqa: E402
from huggingface_hub.errors import (  # noqa: E402
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import http_get  # noqa: E402
from huggingface_hub.utils import build_hf_headers, filter_repo_objects  # noqa: E402

GIB = 1024**3
MARKER_NAME = ".leviathan-complete.json"
PARTIAL_DIR = Path(".cache", "leviathan", "partial")
HF_LOCAL_DIR_DOWNLOADS = Path(".cache", "huggingface", "download")


class DownloadError(Exception):
    """A failure whose message is written for the person reading the Job's log."""


@dataclass(frozen=True)
class Source:
    repo: str
    revision: str
    allow_patterns: tuple[str, ...] | None
    subdir: str


@dataclass(frozen=True)
class Settings:
    root: Path
    sources: tuple[Source, ...]
    max_workers: int
    progress_seconds: float
    margin_bytes: int
    token: str | None
    fake_free_bytes: int | None


@dataclass(frozen=True)
class RemoteFile:
    path: str  # repo-relative, '/'-separated
    size: int
    content_id: str  # LFS sha256, or git blob id for small files: changes whenever the content does


@dataclass(frozen=True)
class SourcePlan:
    source: Source
    commit: str
    files: tuple[RemoteFile, ...]
    local_dir: Path

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


# ---------------------------------------------------------------- configuration


def read_settings(env: dict[str, str]) -> Settings:
    root = env.get("DOWNLOAD_ROOT", "").strip()
    if not root:
        raise DownloadError("DOWNLOAD_ROOT is not set: it must be the mount path of the model volume")
    return Settings(
        root=Path(root),
        sources=parse_sources(env.get("DOWNLOAD_SOURCES", "")),
        max_workers=read_number(env, "DOWNLOAD_MAX_WORKERS", 8, int, minimum=1),
        progress_seconds=read_number(env, "DOWNLOAD_PROGRESS_SECONDS", 30.0, float, minimum=0.05),
        margin_bytes=int(read_number(env, "DOWNLOAD_FREE_SPACE_MARGIN_GIB", 10.0, float, minimum=0) * GIB),
        token=env.get("HF_TOKEN") or None,
        fake_free_bytes=read_number(env, "DOWNLOAD_FAKE_FREE_BYTES", None, int, minimum=0),
    )


def read_number(env: dict[str, str], name: str, default, kind: type, minimum: float):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise DownloadError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    if value < minimum:
        raise DownloadError(f"{name}={raw!r} must be >= {minimum}")
    return value


def parse_sources(raw: str) -> tuple[Source, ...]:
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as err:
        raise DownloadError(f"DOWNLOAD_SOURCES is not valid JSON ({err})") from None
    if not isinstance(items, list) or not items:
        raise DownloadError("DOWNLOAD_SOURCES must be a non-empty JSON list of sources")
    sources = tuple(parse_source(item, index) for index, item in enumerate(items))
    subdirs = [s.subdir for s in sources]
    if len(set(subdirs)) != len(subdirs):
        raise DownloadError(f"DOWNLOAD_SOURCES: every source needs its own subdir, got {subdirs}")
    return sources


def parse_source(item: object, index: int) -> Source:
    where = f"DOWNLOAD_SOURCES[{index}]"
    if not isinstance(item, dict):
        raise DownloadError(f"{where} must be an object with repo and subdir")
    unknown = set(item) - {"repo", "revision", "allowPatterns", "subdir"}
    if unknown:
        raise DownloadError(f"{where} has unknown keys {sorted(unknown)} (keys are camelCase)")
    repo, subdir = item.get("repo"), item.get("subdir")
    if not isinstance(repo, str) or repo.count("/") != 1:
        raise DownloadError(f"{where}.repo must look like 'owner/name', got {repo!r}")
    if not is_safe_relative_path(subdir):
        raise DownloadError(f"{where}.subdir must be a relative path inside DOWNLOAD_ROOT, got {subdir!r}")
    patterns = item.get("allowPatterns")
    if patterns is not None and (not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns)):
        raise DownloadError(f"{where}.allowPatterns must be a list of glob strings")
    return Source(
        repo=repo,
        revision=str(item.get("revision") or "main"),
        allow_patterns=tuple(patterns) if patterns else None,
        subdir=subdir,
    )


def is_safe_relative_path(value: object) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    path = PurePosixPath(value)
    return not path.is_absolute() and ".." not in path.parts


# ---------------------------------------------------------------- planning


def plan_source(api: HfApi, source: Source, root: Path) -> SourcePlan:
    try:
        info = api.model_info(source.repo, revision=source.revision, files_metadata=True)
    except HfHubHTTPError as err:
        raise DownloadError(describe_hub_error(err, source)) from None
    listed = [
        RemoteFile(path=s.rfilename, size=s.size or 0, content_id=s.lfs.sha256 if s.lfs else (s.blob_id or ""))
        for s in info.siblings or []
    ]
    patterns = list(source.allow_patterns) if source.allow_patterns else None
    wanted = tuple(filter_repo_objects(listed, allow_patterns=patterns, key=lambda f: f.path))
    if not wanted:
        raise DownloadError(
            f"no file in {source.repo}@{source.revision} matches allowPatterns {patterns}: check the patterns "
            f"against the repo's file list"
        )
    for remote in wanted:
        check_downloadable(source, remote)
    return SourcePlan(source=source, commit=info.sha, files=wanted, local_dir=root / source.subdir)


def check_downloadable(source: Source, remote: RemoteFile) -> None:
    if not is_safe_relative_path(remote.path):
        raise DownloadError(f"{source.repo} lists an unsafe file path {remote.path!r}; refusing to write it")
    if remote.size > constants.MAX_HTTP_DOWNLOAD_SIZE:
        # huggingface_hub (and the Hub) serve files over 50 GB only through Xet, which this script does not use.
        raise DownloadError(
            f"{source.repo}: {remote.path} is {gib(remote.size)} GiB, over the Hub's 50 GB plain-HTTP limit; "
            f"this downloader cannot fetch it"
        )


def describe_hub_error(err: HfHubHTTPError, source: Source) -> str:
    """Turn a Hub HTTP error into one actionable sentence.

    Order matters: GatedRepoError is a RepositoryNotFoundError, and the Hub answers 401 both for a bad token
    and (as RepositoryNotFoundError) for a private repo without one.
    """
    repo = source.repo
    status = err.response.status_code if err.response is not None else None
    if isinstance(err, GatedRepoError):
        return (
            f"{repo} is gated: accept its terms on the Hub with the account that owns the token "
            f"in the HF_TOKEN secret (HTTP {status})"
        )
    if isinstance(err, RevisionNotFoundError):
        return f"revision {source.revision!r} not found in {repo}: check the source's revision (branch, tag or commit)"
    if isinstance(err, RepositoryNotFoundError):
        return (
            f"repository {repo} not found (HTTP {status}): check the repo name; if it is private or gated, "
            f"the token secret (HF_TOKEN) may be missing or lack access"
        )
    if status == 401:
        return (
            f"authentication failed for {repo} (HTTP 401): the token secret (HF_TOKEN) may be missing, "
            f"expired or wrong"
        )
    if status == 403:
        return f"access to {repo} forbidden (HTTP 403): the token in the HF_TOKEN secret lacks read permission"
    return f"the Hub refused a request for {repo} (HTTP {status}): {first_line(str(err))}"


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


# ---------------------------------------------------------------- local state


def final_path(plan: SourcePlan, remote: RemoteFile) -> Path:
    return plan.local_dir.joinpath(*remote.path.split("/"))


def partial_path(plan: SourcePlan, remote: RemoteFile) -> Path:
    """Stable home of an unfinished file; keyed by content so a newer revision never resumes older bytes."""
    name = f"{remote.path}.{remote.content_id[:16] or 'nocontentid'}.part"
    return plan.local_dir.joinpath(PARTIAL_DIR, *name.split("/"))


def file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def is_complete(plan: SourcePlan, remote: RemoteFile) -> bool:
    return file_size(final_path(plan, remote)) == remote.size


def bytes_on_disk(plan: SourcePlan, remote: RemoteFile) -> int:
    if is_complete(plan, remote):
        return remote.size
    return min(file_size(partial_path(plan, remote)) or 0, remote.size)


def missing_bytes(plans: list[SourcePlan]) -> int:
    return sum(f.size - bytes_on_disk(p, f) for p in plans for f in p.files)


def discard_unusable_data(plan: SourcePlan) -> None:
    """Delete what can never become a correct file, so the free-space check counts that space as free."""
    expected_partials = {partial_path(plan, f) for f in plan.files if not is_complete(plan, f)}
    for remote in plan.files:
        target, partial = final_path(plan, remote), partial_path(plan, remote)
        size = file_size(target)
        if size is not None and size != remote.size:
            log(f"{remote.path}: has {size} bytes, expected {remote.size}; deleting it to download it again")
            target.unlink()
        if (file_size(partial) or 0) > remote.size:
            partial.unlink()
    for stale in files_under(plan.local_dir / PARTIAL_DIR, "*.part"):
        if stale not in expected_partials:
            log(f"deleting stale partial file {stale} (from another revision or an already finished file)")
            stale.unlink()
    # huggingface_hub 2.4.0 (hf download / snapshot_download, e.g. the users' old download pods) never resumes
    # its per-process temp files; after a kill they are just lost space.
    for orphan in files_under(plan.local_dir / HF_LOCAL_DIR_DOWNLOADS, "*.incomplete"):
        log(f"deleting unresumable huggingface_hub temp file {orphan} ({format_bytes(file_size(orphan) or 0)})")
        orphan.unlink()


def files_under(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.rglob(pattern)) if folder.is_dir() else []


# ---------------------------------------------------------------- free space


def check_free_space(settings: Settings, needed: int) -> None:
    free = free_bytes(settings)
    if needed + settings.margin_bytes > free:
        raise DownloadError(
            f"not enough free space on the model volume {settings.root}: need {gib(needed)} GiB to download "
            f"+ {gib(settings.margin_bytes)} GiB margin, but only {gib(free)} GiB is free; "
            f"grow the volume (PVC size) or free space on it"
        )
    log(
        f"free space on {settings.root}: {gib(free)} GiB, "
        f"needed {gib(needed)} GiB + {gib(settings.margin_bytes)} GiB margin"
    )


def free_bytes(settings: Settings) -> int:
    if settings.fake_free_bytes is not None:
        return settings.fake_free_bytes
    return shutil.disk_usage(settings.root).free


def gib(num_bytes: int) -> str:
    return f"{num_bytes / GIB:.2f}"


# ---------------------------------------------------------------- downloading


def download_file(plan: SourcePlan, remote: RemoteFile, token: str | None) -> None:
    """Make one file complete: fetch what its partial file lacks, then move it into place."""
    if is_complete(plan, remote):
        return
    partial = partial_path(plan, remote)
    if file_size(partial) != remote.size:  # else only the final move was interrupted
        fetch_into_partial(plan, remote, partial, token)
    target = final_path(plan, remote)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, target)  # same filesystem: the file appears complete or not at all
    log(f"{remote.path}: done ({remote.size} bytes)")


def fetch_into_partial(plan: SourcePlan, remote: RemoteFile, partial: Path, token: str | None) -> None:
    """Append the bytes the partial file still lacks; an earlier run's bytes are kept and resumed."""
    url, headers = resolve_download(plan, remote, token)
    partial.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("ab") as sink:
        resume_from = sink.tell()
        if resume_from:
            log(f"{remote.path}: resuming at {resume_from} of {remote.size} bytes")
        # http_get sends `Range: bytes=<resume_from>-`, retries transient network errors by resuming again,
        # and raises if the final size differs from `expected_size`.
        http_get(url, sink, resume_size=resume_from, headers=headers, expected_size=remote.size)


def resolve_download(plan: SourcePlan, remote: RemoteFile, token: str | None) -> tuple[str, dict[str, str]]:
    """HEAD the file at the pinned commit; return where to GET it and the headers to send there."""
    url = hf_hub_url(plan.source.repo, remote.path, revision=plan.commit)
    try:
        metadata = get_hf_file_metadata(url, token=token, retry_on_errors=True)
    except HfHubHTTPError as err:
        raise DownloadError(f"{remote.path}: {describe_hub_error(err, plan.source)}") from None
    headers = build_hf_headers(token=token)
    # Compressed transfer would break byte offsets used by Range resumes.
    headers["Accept-Encoding"] = "identity"
    if urlsplit(metadata.location).netloc != urlsplit(url).netloc:
        # Large files redirect to a CDN with a signed URL: the Hub token must not leave the Hub.
        headers.pop("authorization", None)
    return metadata.location, headers


def run_in_parallel(jobs: list, worker, max_workers: int) -> None:
    """Run worker(job) on daemon threads; re-raise the first failure at once.

    Daemon threads (not ThreadPoolExecutor) so a failure ends the process without waiting for other
    multi-GB files to finish; their partial data stays on disk and the next run resumes it.
    """
    pending: queue.Queue = queue.Queue()
    for job in jobs:
        pending.put(job)
    errors: queue.Queue = queue.Queue()

    def drain() -> None:
        while errors.empty():
            try:
                job = pending.get_nowait()
            except queue.Empty:
                return
            try:
                worker(job)
            except BaseException as err:  # noqa: BLE001 - handed to the main thread
                errors.put(err)

    threads = [threading.Thread(target=drain, daemon=True) for _ in range(min(max_workers, len(jobs)))]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads) and errors.empty():
        time.sleep(0.05)
    if not errors.empty():
        raise errors.get()


# ---------------------------------------------------------------- progress


class ProgressLogger:
    """Logs bytes on disk / total every `interval` seconds from a background thread.

    Measuring the disk (final + partial files) instead of hooking the HTTP stream keeps it honest across
    resumes and parallel files.
    """

    def __init__(self, plans: list[SourcePlan], interval: float):
        self.plans, self.interval = plans, interval
        self.total = sum(p.total_bytes for p in plans)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._last = (time.monotonic(), self._on_disk())

    def __enter__(self) -> ProgressLogger:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _on_disk(self) -> int:
        return sum(bytes_on_disk(p, f) for p in self.plans for f in p.files)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.log_once()

    def log_once(self) -> None:
        now, done = time.monotonic(), self._on_disk()
        last_time, last_done = self._last
        rate = max(done - last_done, 0) / max(now - last_time, 1e-9)
        self._last = (now, done)
        percent = 100.0 * done / self.total if self.total else 100.0
        eta = format_duration((self.total - done) / rate) if rate > 0 else "unknown"
        log(
            f"progress: {format_bytes(done)} / {format_bytes(self.total)} ({percent:.1f}%), "
            f"{format_bytes(rate)}/s, ETA {eta}"
        )


def format_bytes(num: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(num) < 1024:
            return f"{num:.1f} {unit}"
        num /= 1024
    return f"{num:.1f} TiB"


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


# ---------------------------------------------------------------- verification and marker


def verify_sizes(plan: SourcePlan) -> None:
    wrong = [
        f"{f.path} ({file_size(final_path(plan, f))} != {f.size})" for f in plan.files if not is_complete(plan, f)
    ]
    if wrong:
        raise DownloadError(f"{plan.source.repo}: size check failed after download for {', '.join(wrong)}")


def write_marker(plan: SourcePlan) -> None:
    """Record what is on disk, for humans and for readiness checks of the serving pods."""
    marker = {
        "repo": plan.source.repo,
        "revision": plan.source.revision,
        "commit": plan.commit,
        "allowPatterns": list(plan.source.allow_patterns) if plan.source.allow_patterns else None,
        "fileCount": len(plan.files),
        "totalBytes": plan.total_bytes,
        "files": [{"path": f.path, "size": f.size} for f in plan.files],
        "completedAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    plan.local_dir.mkdir(parents=True, exist_ok=True)
    tmp = plan.local_dir / (MARKER_NAME + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2) + "\n")
    os.replace(tmp, plan.local_dir / MARKER_NAME)


def remove_marker(plan: SourcePlan) -> None:
    """A download is about to change the files: nothing may read the old marker as 'complete' meanwhile."""
    (plan.local_dir / MARKER_NAME).unlink(missing_ok=True)


# ---------------------------------------------------------------- main


def log(message: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} hf-download: {message}", flush=True)


def run(settings: Settings) -> None:
    log(f"hub {constants.ENDPOINT}, volume {settings.root}, {len(settings.sources)} source(s)")
    if not settings.root.is_dir():
        raise DownloadError(f"DOWNLOAD_ROOT {settings.root} does not exist: is the model volume mounted there?")
    api = HfApi(token=settings.token)
    plans = [plan_source(api, source, settings.root) for source in settings.sources]
    for plan in plans:
        log(
            f"{plan.source.repo}@{plan.source.revision} (commit {plan.commit}): {len(plan.files)} file(s), "
            f"{format_bytes(plan.total_bytes)} -> {plan.local_dir}"
        )
        discard_unusable_data(plan)

    if all(is_complete(p, f) for p in plans for f in p.files):
        for plan in plans:
            write_marker(plan)
        log("model already complete on the volume; nothing to download")
        return
    check_free_space(settings, missing_bytes(plans))

    for plan in plans:
        remove_marker(plan)
    jobs = [(plan, remote) for plan in plans for remote in plan.files if not is_complete(plan, remote)]
    log(f"downloading {len(jobs)} file(s) with {settings.max_workers} worker(s)")
    with ProgressLogger(plans, settings.progress_seconds) as progress:
        run_in_parallel(jobs, lambda job: download_file(*job, settings.token), settings.max_workers)
        progress.log_once()

    for plan in plans:
        verify_sizes(plan)
        write_marker(plan)
    file_count, total = sum(len(p.files) for p in plans), sum(p.total_bytes for p in plans)
    log(f"download complete: {file_count} file(s), {format_bytes(total)}")


def main() -> int:
    token = os.environ.get("HF_TOKEN") or ""
    try:
        run(read_settings(dict(os.environ)))
        return 0
    except DownloadError as err:
        message = str(err)
    except PermissionError as err:
        message = (
            f"permission denied on {err.filename}: the Job's runAsUser/fsGroup cannot write the model volume "
            f"(hostPath volumes ignore fsGroup: the directory must be owned by or writable for that UID)"
        )
    except httpx2.TransportError as err:
        message = (
            f"cannot reach the Hub at {constants.ENDPOINT} ({type(err).__name__}: {first_line(str(err))}): "
            f"check the pod's network egress, proxy settings and HF_ENDPOINT; re-running resumes the download"
        )
    except Exception as err:  # noqa: BLE001 - any failure must end the Job with a readable line
        message = f"unexpected {type(err).__name__}: {first_line(str(err))}"
    if token:
        message = message.replace(token, "***")  # belt and braces: no library message may leak the token
    print(f"hf-download: ERROR: {message}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
