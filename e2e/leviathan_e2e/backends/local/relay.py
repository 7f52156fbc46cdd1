"""TCP relay from a loopback port of the host to the apiserver inside the cluster's network
namespace.

The parent creates the listening socket in the host's namespace and passes it as ``--listen-fd``;
this process itself is started inside the cluster's namespace (``nsenter --net``), so the sockets
it opens to ``--target`` are there. kubectl, helm and the harness use ``https://127.0.0.1:<port>``
and never need a route, an interface or a firewall rule on the host. TLS is end to end (the
apiserver certificate carries 127.0.0.1).

    python -m leviathan_e2e.backends.local.relay --listen-fd 3 --target 198.18.0.1:6443
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _serve_one(client: socket.socket, target: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(target, timeout=5)
    except OSError:
        client.close()  # apiserver not up yet: the caller sees a closed connection and retries
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen-fd", type=int, required=True)
    ap.add_argument("--target", required=True, help="HOST:PORT inside this network namespace")
    args = ap.parse_args(argv)
    host, port = args.target.rsplit(":", 1)
    listener = socket.socket(fileno=args.listen_fd)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_serve_one, args=(client, (host, int(port))), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
