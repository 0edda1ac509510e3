"""A TCP relay that listens inside a network namespace and connects out from the one it was started in.

The API server's service proxy only dials an endpoint address that is a Pod's, and the API refuses
127.0.0.0/8 for both: so the e2e Prometheus, on a loopback port, is reached at an address inside a
network namespace the test made, through this relay. Its listening socket is opened after setns(2)
into that namespace; the thread then returns to its own namespace, where every connection it makes
to ``--to`` is opened.

    python -m tests.e2e.netns_relay --netns /run/netns/NAME --listen 10.213.0.2:9090 --to 127.0.0.1:20123
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


def listen_in(netns: str, address: str, port: int) -> socket.socket:
    """A listening socket on ``address``:``port`` inside the network namespace at path ``netns``."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns, os.O_RDONLY)
    try:
        _setns(target)
        try:
            return socket.create_server((address, port))
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def relay_connection(client: socket.socket, to: tuple[str, int]) -> None:
    with client:
        try:
            upstream = socket.create_connection(to, timeout=10)
        except OSError:
            return
        with upstream:
            upstream.settimeout(None)
            back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            back.start()
            _pump(client, upstream)
            back.join()


def serve(server: socket.socket, to: tuple[str, int]) -> None:
    while True:
        client, _ = server.accept()
        threading.Thread(target=relay_connection, args=(client, to), daemon=True).start()


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--netns", required=True, help="path of the network namespace, e.g. /run/netns/NAME")
    parser.add_argument("--listen", required=True, type=address, help="ADDRESS:PORT inside the namespace")
    parser.add_argument("--to", required=True, type=address, help="ADDRESS:PORT to connect to, from outside it")
    args = parser.parse_args()
    server = listen_in(args.netns, *args.listen)
    print(f"relaying {args.listen[0]}:{args.listen[1]} in {args.netns} to {args.to[0]}:{args.to[1]}", flush=True)
    serve(server, args.to)


if __name__ == "__main__":
    main()
