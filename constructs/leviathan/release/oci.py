"""Just enough of the OCI distribution API to publish and fetch the rendered bundles as artifacts.

Helm pushes the charts itself; the bundles are not charts, so they go up as an OCI artifact
(image-manifest v1.1 with an `artifactType`): one layer per file, each titled with
`org.opencontainers.image.title`, which is what `oras pull` uses as the file name. No client
library is needed offline: the API is a handful of HTTP calls (distribution spec v1.1, "push" and
"pull"). Registries that need a login are not handled here (the project's registry e2e runs an
open one on loopback).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import requests

from .errors import ReleaseError

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
BUNDLE_TYPE = "application/vnd.leviathan.bundle.v1"
TITLE = "org.opencontainers.image.title"


class OciError(ReleaseError, RuntimeError):
    pass


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Reference:
    """`oci://host:port/path/name` split into the registry and the repository."""

    host: str
    repository: str

    @classmethod
    def parse(cls, url: str) -> "Reference":
        if not url.startswith("oci://"):
            raise OciError(f"{url!r}: expected oci://host[:port]/path")
        host, _, repository = url.removeprefix("oci://").partition("/")
        if not host or not repository:
            raise OciError(f"{url!r}: expected oci://host[:port]/path")
        return cls(host, repository.strip("/"))

    def child(self, name: str) -> "Reference":
        return Reference(self.host, f"{self.repository}/{name}")

    def __str__(self) -> str:
        return f"oci://{self.host}/{self.repository}"


class Registry:
    def __init__(self, ref: Reference, ca_file: str | None = None, plain_http: bool = False):
        self.ref = ref
        self.base = f"{'http' if plain_http else 'https'}://{ref.host}/v2/{ref.repository}"
        # verify goes with every request: requests lets REQUESTS_CA_BUNDLE override a session's own.
        self.verify = ca_file or True
        self.session = requests.Session()

    def _call(self, method: str, url: str, **kwargs) -> requests.Response:
        try:
            return self.session.request(method, url, verify=self.verify, **kwargs)
        except requests.RequestException as error:
            raise OciError(f"{method} {url}: {error}") from error

    def _check(self, response: requests.Response, what: str) -> requests.Response:
        if response.status_code >= 400:
            raise OciError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
        return response

    def manifest(self, tag: str) -> dict | None:
        """The manifest tagged `tag`, or None when the tag does not exist."""
        response = self._call("GET", f"{self.base}/manifests/{tag}", headers={"Accept": MANIFEST}, timeout=60)
        if response.status_code == 404:
            return None
        return self._check(response, f"GET {self.ref}:{tag}").json()

    def blob(self, digest: str) -> bytes:
        data = self._check(self._call("GET", f"{self.base}/blobs/{digest}", timeout=300),
                           f"GET blob {digest}").content
        if digest_of(data) != digest:
            raise OciError(f"blob {digest} arrived with digest {digest_of(data)}")
        return data

    def push_blob(self, data: bytes) -> str:
        digest = digest_of(data)
        if self._call("HEAD", f"{self.base}/blobs/{digest}", timeout=60).status_code == 200:
            return digest
        start = self._check(self._call("POST", f"{self.base}/blobs/uploads/", timeout=60), "start upload")
        location = start.headers["Location"]
        if location.startswith("/"):
            location = self.base.split("/v2/")[0] + location
        separator = "&" if "?" in location else "?"
        self._check(self._call("PUT", f"{location}{separator}digest={digest}", data=data, timeout=300,
                                     headers={"Content-Type": "application/octet-stream"}), f"upload {digest}")
        return digest

    def push_artifact(self, tag: str, files: list[Path], annotations: dict[str, str]) -> str:
        """Push `files` as one artifact tagged `tag`; returns the manifest digest."""
        config = b"{}"
        layers = []
        for path in files:
            data = path.read_bytes()
            layers.append({"mediaType": "application/octet-stream", "digest": self.push_blob(data),
                           "size": len(data), "annotations": {TITLE: path.name}})
        manifest = {
            "schemaVersion": 2, "mediaType": MANIFEST, "artifactType": BUNDLE_TYPE,
            "config": {"mediaType": EMPTY_CONFIG, "digest": self.push_blob(config), "size": len(config)},
            "layers": layers, "annotations": annotations,
        }
        body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        self._check(self._call("PUT", f"{self.base}/manifests/{tag}", data=body,
                                     headers={"Content-Type": MANIFEST}, timeout=60), f"PUT {self.ref}:{tag}")
        return digest_of(body)

    def pull_artifact(self, tag: str, dest: Path) -> list[Path]:
        """Write each layer of the artifact `tag` into dest under its title; returns the paths."""
        manifest = self.manifest(tag)
        if manifest is None:
            raise OciError(f"{self.ref}:{tag} does not exist")
        dest.mkdir(parents=True, exist_ok=True)
        written = []
        for layer in manifest["layers"]:
            name = Path(layer["annotations"][TITLE]).name
            (dest / name).write_bytes(self.blob(layer["digest"]))
            written.append(dest / name)
        return written
