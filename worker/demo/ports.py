"""A port for a local server (the demo's mail sink, the tests' and benchmarks' servers) to listen on."""

from __future__ import annotations

import random
import socket

_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A free port below the kernel's ephemeral range (32768 and up on Linux).

    A port the kernel picked with bind(0) is free only until it is closed: before the server binds it,
    any outgoing connection (to PostgreSQL, Redis, SMTP) may take it as its local port, and the server
    fails with "address already in use". Ports below that range are never given to connections.
    """
    rng = random.Random()
    for _ in range(500):
        port = rng.randrange(20000, 32000)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port between 20000 and 31999")
