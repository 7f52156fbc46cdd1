"""A fake Hugging Face Hub on 127.0.0.1 with exactly the endpoints hf_download.py uses via huggingface_hub 2.4.0.

- GET  /api/models/{repo}/revision/{rev}?blobs=True   model_info(files_metadata=True)
- HEAD /{repo}/resolve/{rev}/{path}                    get_hf_file_metadata: X-Repo-Commit + ETag + size
- GET  /{repo}/resolve/{rev}/{path}                    small (git) files, served by the "Hub" itself
- GET  /cdn/{repo}/{sha256}                            large (LFS) files, as a signed-URL CDN would serve them

Large files behave like the real Hub: HEAD /resolve answers 302 to another host (`localhost` instead of
`127.0.0.1`) with X-Linked-Etag/X-Linked-Size, so huggingface_hub takes size and etag from the redirect and
the client must drop the Authorization header at the CDN. No Xet headers are ever sent, so no Xet path is used.
Every request is recorded so tests can assert on methods, paths, Range and Authorization headers.

Run as a program (``python fake_hf_hub.py --port 8080 --url ... --cdn-url ...``) it serves the DeepSeek GGUF and
config repos on all interfaces: the e2e suite runs it as a pod behind two Services (hub and "CDN" names), and
reads the recorded requests back from ``GET /_fake/requests``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

DEEPSEEK_REPO = "unsloth/DeepSeek-V3-GGUF"
DEEPSEEK_COMMIT = "a" * 40
DEEPSEEK_CONFIG_REPO = "deepseek-ai/DeepSeek-V3"
DEEPSEEK_CONFIG_COMMIT = "c" * 40
LFS_SUFFIXES = (".gguf", ".safetensors")


def make_bytes(size: int, seed: str) -> bytes:
    return random.Random(seed).randbytes(size)


@dataclass
class FakeRepo:
    repo_id: str
    commit: str
    files: dict[str, bytes]
    branches: tuple[str, ...] = ("main",)
    gated: bool = False  # the token's account has not accepted the repo's terms

    def is_lfs(self, path: str) -> bool:
        return path.endswith(LFS_SUFFIXES)

    def blob_id(self, path: str) -> str:
        content = self.files[path]
        return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()

    def sha256(self, path: str) -> str:
        return hashlib.sha256(self.files[path]).hexdigest()

    def path_for_sha256(self, digest: str) -> str | None:
        return next((p for p in self.files if self.is_lfs(p) and self.sha256(p) == digest), None)

    def knows_revision(self, revision: str) -> bool:
        return revision in self.branches or revision == self.commit

    def sibling(self, path: str) -> dict:
        entry = {"rfilename": path, "size": len(self.files[path]), "blobId": self.blob_id(path)}
        if self.is_lfs(path):
            entry["lfs"] = {"size": len(self.files[path]), "sha256": self.sha256(path), "pointerSize": 134}
        return entry


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    bytes_sent: int = 0
    status: int = 0


@dataclass
class FakeHub:
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    required_token: str | None = None
    # Slow or stuck transfers, to watch progress lines and to interrupt a download mid-file.
    bytes_per_write: int = 64 * 1024
    seconds_per_write: float = 0.0
    stall_after_bytes: int | None = None
    unstall: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    # How clients reach the hub and its "CDN" (two host names of one server); default: loopback.
    public_url: str | None = None
    public_cdn_url: str | None = None

    @property
    def url(self) -> str:
        return self.public_url or f"http://127.0.0.1:{self.port}"

    @property
    def cdn_url(self) -> str:
        return self.public_cdn_url or f"http://localhost:{self.port}"

    def add_repo(self, repo_id: str, commit: str, files: dict[str, bytes]) -> FakeRepo:
        self.repos[repo_id] = FakeRepo(repo_id, commit, files)
        return self.repos[repo_id]

    def file_requests(self) -> list[RecordedRequest]:
        """Requests that touch file contents or metadata (everything except the model_info API call)."""
        return [r for r in self.requests if not r.path.startswith("/api/")]

    def content_gets(self) -> list[RecordedRequest]:
        return [r for r in self.file_requests() if r.method == "GET"]


class FakeHubHandler(BaseHTTPRequestHandler):
    hub: FakeHub  # set on a per-server subclass

    API_RE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/revision/(?P<rev>[^/]+)$")
    RESOLVE_RE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
    CDN_RE = re.compile(r"^/cdn/(?P<repo>[^/]+/[^/]+)/(?P<sha>[0-9a-f]{64})$")

    def log_message(self, format, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("HEAD")

    def send_response(self, code, message=None):
        record = getattr(self, "record", None)  # this request's (one handler per connection)
        if record is not None and record.status == 0:
            record.status = code
        super().send_response(code, message)

    def _handle(self, method: str) -> None:
        self.record = None
        if urlsplit(self.path).path == "/_fake/requests":
            return self._serve_recorded()
        record = RecordedRequest(method, urlsplit(self.path).path, {k.lower(): v for k, v in self.headers.items()})
        self.hub.requests.append(record)
        self.record = record
        path = unquote(record.path)
        if match := self.CDN_RE.match(path):
            return self._serve_cdn(match, record)
        if not self._authorized(record):
            return self._error(401, message="Invalid credentials in Authorization header")
        if match := self.API_RE.match(path):
            return self._serve_model_info(match)
        if match := self.RESOLVE_RE.match(path):
            return self._serve_resolve(match, record)
        self._error(404)

    def _serve_recorded(self) -> None:
        """What the hub saw, for tests that cannot reach into this process: no header values, only facts."""
        body = json.dumps([
            {"method": r.method, "path": r.path, "status": r.status, "range": r.headers.get("range"),
             "authorization": ("none" if "authorization" not in r.headers else
                               "token" if self._authorized(r) else "other")}
            for r in list(self.hub.requests)
        ]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self, record: RecordedRequest) -> bool:
        if self.hub.required_token is None:
            return True
        return record.headers.get("authorization") == f"Bearer {self.hub.required_token}"

    def _repo_and_revision(self, match) -> FakeRepo | None:
        repo = self.hub.repos.get(match["repo"])
        if repo is None:
            self._error(404, code="RepoNotFound")
        elif repo.gated:
            self._error(403, code="GatedRepo", message="Access to this model is restricted")
            repo = None
        elif not repo.knows_revision(match["rev"]):
            self._error(404, code="RevisionNotFound")
            repo = None
        return repo

    def _serve_model_info(self, match) -> None:
        if (repo := self._repo_and_revision(match)) is None:
            return
        body = json.dumps(
            {"id": repo.repo_id, "sha": repo.commit, "siblings": [repo.sibling(p) for p in sorted(repo.files)]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve_resolve(self, match, record: RecordedRequest) -> None:
        if (repo := self._repo_and_revision(match)) is None:
            return
        path = match["path"]
        if path not in repo.files:
            return self._error(404, code="EntryNotFound")
        if repo.is_lfs(path):
            # Like the Hub: LFS content lives elsewhere; size and etag travel on the redirect itself.
            self.send_response(302)
            self.send_header("Location", f"{self.hub.cdn_url}/cdn/{repo.repo_id}/{repo.sha256(path)}")
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("X-Linked-Etag", f'"{repo.sha256(path)}"')
            self.send_header("X-Linked-Size", str(len(repo.files[path])))
            self.send_header("ETag", f'"{repo.blob_id(path)}"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send_content(repo.files[path], record, extra_headers={
            "X-Repo-Commit": repo.commit,
            "ETag": f'"{repo.blob_id(path)}"',
        })

    def _serve_cdn(self, match, record: RecordedRequest) -> None:
        repo = self.hub.repos.get(match["repo"])
        path = repo.path_for_sha256(match["sha"]) if repo else None
        if path is None:
            return self._error(404)
        self._send_content(repo.files[path], record, extra_headers={})

    def _send_content(self, content: bytes, record: RecordedRequest, extra_headers: dict[str, str]) -> None:
        start = parse_range_start(record.headers.get("range"))
        if start is not None and start >= len(content):
            return self._error(416)
        self.send_response(200 if start is None else 206)
        start = start or 0
        if record.headers.get("range"):
            self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        self.send_header("Content-Length", str(len(content) - start))
        self.send_header("Accept-Ranges", "bytes")
        for name, value in extra_headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "GET":
            self._stream(content[start:], record)

    def _stream(self, body: bytes, record: RecordedRequest) -> None:
        step = self.hub.bytes_per_write
        try:
            for offset in range(0, len(body), step):
                stall_at = self.hub.stall_after_bytes
                if stall_at is not None and record.bytes_sent >= stall_at:
                    self.hub.unstall.wait(30)  # a stuck transfer: the test kills the client meanwhile
                    return
                self.wfile.write(body[offset : offset + step])
                self.wfile.flush()
                record.bytes_sent += len(body[offset : offset + step])
                time.sleep(self.hub.seconds_per_write)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (killed on purpose by a test)

    def _error(self, status: int, code: str | None = None, message: str | None = None) -> None:
        body = json.dumps({"error": message or code or "error"}).encode()
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        if message:
            self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)


def parse_range_start(header: str | None) -> int | None:
    if not header:
        return None
    match = re.fullmatch(r"bytes=(\d+)-", header.strip())
    assert match, f"fake hub only understands open-ended ranges, got {header!r}"
    return int(match[1])


@contextmanager
def serve_fake_hub(host: str = "127.0.0.1", port: int = 0) -> Iterator[FakeHub]:
    hub = FakeHub()
    handler = type("BoundFakeHubHandler", (FakeHubHandler,), {"hub": hub})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    hub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        hub.unstall.set()
        server.shutdown()
        server.server_close()


def deepseek_files() -> dict[str, bytes]:
    """A GGUF repo layout: three Q4_K_M shards (the wanted quant) beside other quants that must stay remote."""
    sizes = {
        "DeepSeek-V3-Q4_K_M/DeepSeek-V3-Q4_K_M-00001-of-00003.gguf": 1024 * 1024,
        "DeepSeek-V3-Q4_K_M/DeepSeek-V3-Q4_K_M-00002-of-00003.gguf": 1024 * 1024 + 17,
        "DeepSeek-V3-Q4_K_M/DeepSeek-V3-Q4_K_M-00003-of-00003.gguf": 300 * 1024,
        "DeepSeek-V3-Q2_K/DeepSeek-V3-Q2_K-00001-of-00002.gguf": 256 * 1024,
        "DeepSeek-V3-Q2_K/DeepSeek-V3-Q2_K-00002-of-00002.gguf": 256 * 1024,
        "DeepSeek-V3-Q8_0/DeepSeek-V3-Q8_0-00001-of-00001.gguf": 512 * 1024,
        "README.md": 4 * 1024,
        ".gitattributes": 1536,
    }
    return {path: make_bytes(size, path) for path, size in sizes.items()}


def deepseek_config_files() -> dict[str, bytes]:
    """The config repo: the chart fetches only *.json, *.py, *.model and *.tiktoken from it."""
    files = {
        "config.json": json.dumps({"architectures": ["DeepseekV3ForCausalLM"], "num_hidden_layers": 61}).encode(),
        "tokenizer_config.json": b'{"model_max_length": 131072}',
        "modeling_deepseek.py": b"# modeling code\n",
        "README.md": b"# not fetched\n",
    }
    files["tokenizer.json"] = make_bytes(96 * 1024, "tokenizer.json")
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description="serve the fake Hub (DeepSeek GGUF + config repos) until killed")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--url", required=True, help="how clients reach this hub (HF_ENDPOINT)")
    parser.add_argument("--cdn-url", required=True, help="another host name of this server, for LFS redirects")
    args = parser.parse_args()
    with serve_fake_hub(args.host, args.port) as hub:
        hub.public_url, hub.public_cdn_url = args.url, args.cdn_url
        hub.required_token = os.environ.get("FAKE_HUB_REQUIRED_TOKEN") or None
        hub.add_repo(DEEPSEEK_REPO, DEEPSEEK_COMMIT, deepseek_files())
        hub.add_repo(DEEPSEEK_CONFIG_REPO, DEEPSEEK_CONFIG_COMMIT, deepseek_config_files())
        print(f"fake hub on {args.host}:{hub.port} as {hub.url} (CDN {hub.cdn_url}), "
              f"token {'required' if hub.required_token else 'not required'}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
