"""A tiny stdlib-only Kubernetes API client (client-certificate auth, JSON in/out).

Used by the local backend for readiness polling and bootstrap objects, and by the
hostPath provisioner, so neither needs kubectl or third-party packages.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["ApiClient", "ApiError"]


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str, method: str, path: str):
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


class ApiClient:
    def __init__(self, server: str, ca: Path, cert: Path, key: Path):
        self.server = server.rstrip("/")
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.load_cert_chain(str(cert), str(key))
        self._ctx = ctx
        # Never use an HTTP(S)_PROXY from the environment for the apiserver.
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx)
        )

    def request(self, method: str, path: str, body: Any = None, timeout: float = 10,
                content_type: str = "application/json") -> Any:
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.server + path, data=data, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, exc.read().decode(errors="replace"), method, path) from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    def get(self, path: str, timeout: float = 10) -> Any:
        return self.request("GET", path, timeout=timeout)

    def create(self, path: str, obj: dict, exist_ok: bool = True) -> Any:
        """POST *obj* to the collection *path*; a 409 (already exists) is fine if *exist_ok*."""
        try:
            return self.request("POST", path, obj)
        except ApiError as exc:
            if exist_ok and exc.status == 409:
                return None
            raise

    def delete(self, path: str, missing_ok: bool = True) -> Any:
        try:
            return self.request("DELETE", path)
        except ApiError as exc:
            if missing_ok and exc.status == 404:
                return None
            raise
