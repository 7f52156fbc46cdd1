"""The network-probe image of the NetworkPolicy e2e: Debian's static busybox (sh, wget, nc, httpd,
nslookup) and the cluster's own pinned CoreDNS binary (from scripts/build-k8s), assembled offline.

One image plays every part the policies are tested against: HTTP clients in labelled and unlabelled
namespaces, an HTTPS-port listener standing for "the internet", and a DNS server in the
`openshift-dns` namespace answering on 5353 behind a Service on 53, as OpenShift's dns-default does.
"""

from __future__ import annotations

from pathlib import Path

from .images import ImageArchive, busybox_image
from .versions import bin_dir, read_versions

#: Names the probe DNS server answers (CoreDNS `hosts` plugin), and with what.
DNS_NAME = "probe.leviathan.test"
DNS_ANSWER = "198.18.255.254"


def netprobe_ref() -> str:
    return f"leviathan/netprobe-e2e:coredns{read_versions()['COREDNS_VERSION']}"


def corefile(port: int) -> str:
    """Answers DNS_NAME only; everything else NXDOMAIN. No `forward`: never the host resolver."""
    return f""".:{port} {{
    hosts {{
        {DNS_ANSWER} {DNS_NAME}
    }}
    errors
}}
"""


def netprobe_image(out_dir: Path) -> ImageArchive:
    out_dir.mkdir(parents=True, exist_ok=True)
    return busybox_image(netprobe_ref(), out_dir / "netprobe.tar", files={"/coredns": bin_dir() / "coredns"},
                         cmd=["sleep", "3600"])
