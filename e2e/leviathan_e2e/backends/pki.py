"""Certificates, keys and kubeconfigs for the local cluster, via the ``openssl`` CLI.

Everything is ECDSA P-256 except the service-account signing key (RSA 2048, the
most widely supported JWT algorithm for projected tokens). About 30 openssl calls,
well under a second in total.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

__all__ = ["CertPair", "PKI", "render_kubeconfig", "cert_text"]


def _openssl(*args: str, input: bytes | None = None) -> bytes:
    proc = subprocess.run(["openssl", *args], input=input, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


def _subject(cn: str, orgs: Sequence[str]) -> str:
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("/", "\\/").replace(",", "\\,")

    return "".join(f"/O={esc(o)}" for o in orgs) + f"/CN={esc(cn)}"


class PKI:
    """A CA plus leaf certs in one directory (created on demand, mode 0700)."""

    def __init__(self, directory: Path, days: int = 30):
        self.dir = Path(directory)
        self.days = days
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)

    @property
    def ca(self) -> CertPair:
        return CertPair(self.dir / "ca.crt", self.dir / "ca.key")

    def _genkey(self, path: Path) -> None:
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))
        path.chmod(0o600)

    def make_ca(self, cn: str = "leviathan-e2e-ca") -> CertPair:
        ca = self.ca
        if ca.cert.exists() and ca.key.exists():
            return ca
        self._genkey(ca.key)
        _openssl(
            "req", "-x509", "-new", "-key", str(ca.key), "-subj", _subject(cn, []),
            "-days", str(self.days), "-sha256", "-set_serial", str(secrets.randbits(63)),
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            "-addext", "subjectKeyIdentifier=hash",
            "-out", str(ca.cert),
        )
        return ca

    def make_cert(
        self,
        name: str,
        cn: str,
        orgs: Sequence[str] = (),
        *,
        dns: Sequence[str] = (),
        ips: Sequence[str] = (),
        server: bool = False,
        client: bool = True,
    ) -> CertPair:
        """Issue ``<name>.crt``/``<name>.key`` signed by the CA (made first if missing)."""
        ca = self.make_ca()
        pair = CertPair(self.dir / f"{name}.crt", self.dir / f"{name}.key")
        self._genkey(pair.key)
        csr = _openssl("req", "-new", "-key", str(pair.key), "-subj", _subject(cn, orgs))
        usages = [u for u, on in (("serverAuth", server), ("clientAuth", client)) if on]
        ext = [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=" + ",".join(usages),
            "authorityKeyIdentifier=keyid",
        ]
        sans = [f"DNS:{d}" for d in dns] + [f"IP:{ipaddress.ip_address(i)}" for i in ips]
        if sans:
            ext.append("subjectAltName=" + ",".join(sans))
        extfile = self.dir / f"{name}.ext"
        extfile.write_text("\n".join(ext) + "\n")
        try:
            _openssl(
                "x509", "-req", "-CA", str(ca.cert), "-CAkey", str(ca.key),
                "-set_serial", str(secrets.randbits(63)), "-days", str(self.days), "-sha256",
                "-extfile", str(extfile), "-out", str(pair.cert), input=csr,
            )
        finally:
            extfile.unlink(missing_ok=True)
        return pair

    def make_sa_keypair(self) -> CertPair:
        """Service-account token signing key (``sa.key``) and its public key (``sa.pub``)."""
        key, pub = self.dir / "sa.key", self.dir / "sa.pub"
        if not key.exists():
            _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key))
            key.chmod(0o600)
            _openssl("pkey", "-in", str(key), "-pubout", "-out", str(pub))
        return CertPair(pub, key)


def render_kubeconfig(server: str, ca: Path, cert: Path, key: Path, user: str,
                      cluster: str = "leviathan-e2e") -> str:
    """A self-contained kubeconfig (certs embedded) as JSON text (valid YAML)."""
    b64 = lambda p: base64.b64encode(Path(p).read_bytes()).decode()  # noqa: E731
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {
            "server": server, "certificate-authority-data": b64(ca)}}],
        "users": [{"name": user, "user": {
            "client-certificate-data": b64(cert), "client-key-data": b64(key)}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
        "preferences": {},
    }
    return json.dumps(cfg, indent=2) + "\n"


def cert_text(cert: Path) -> str:
    """``openssl x509 -text`` of a certificate (for tests and debugging)."""
    return _openssl("x509", "-noout", "-text", "-in", str(cert)).decode()
