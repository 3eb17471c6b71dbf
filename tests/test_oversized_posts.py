"""Page forms are read within a small limit before any token is looked at: a stranger's huge
POSTs to /s/, /a/ and /u/ cost `ces serve` neither memory nor disk."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import requests

from tests.support import BROWSER, Service

MiB = 1024 * 1024


@pytest.fixture
def served(config, app_port, tmp_path):
    scratch = tmp_path / "tmp"  # the server's temporary files, and nothing else, go here
    scratch.mkdir()
    service = Service({**config.env(), "TMPDIR": str(scratch)}, app_port, tmp_path)
    service.scratch = scratch
    service.start(["serve", "--port", str(app_port)])
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def status_kib(pid: int, field: str) -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith(field + ":"))
    return int(line.split()[1])


def temp_files(pid: int, folder: Path) -> list[str]:
    links = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            links.append(os.readlink(fd))
        except OSError:
            continue
    return [link for link in links if link.startswith(str(folder))]


def stream(head: bytes, size: int, chunk: bytes, tail: bytes = b""):
    """`size` bytes of a body, a chunk at a time: the test never holds it."""
    yield head
    for _ in range(size // len(chunk)):
        yield chunk
    yield tail


def urlencoded(size: int):
    # Many fields just under a megabyte: a form parser's per-field limit does not stop them.
    return (stream(b"score=2", size, b"&comment=" + b"a" * (MiB - 16)),
            {"Content-Type": "application/x-www-form-urlencoded"})


def multipart(size: int):
    head = (b'--b0undary\r\nContent-Disposition: form-data; name="comment"; filename="a.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\n")
    tail = b"\r\n--b0undary--\r\n"
    return stream(head, size, b"a" * MiB, tail), {"Content-Type": "multipart/form-data; boundary=b0undary"}


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_huge_posts_to_the_pages_cost_no_memory_and_no_disk(served):
    pid = served.procs[0].pid
    targets = [(path, body) for path in ("/s/x", "/a/x", "/u/x") for body in (urlencoded, multipart)]
    for path, body in targets:  # warm up each route with a small form
        data, headers = body(0)
        requests.post(served.url + path, data=data, headers={**BROWSER, **headers}, timeout=30)
    before = status_kib(pid, "VmRSS")
    answers, opened = [], []
    for i in range(20):
        path, body = targets[i % len(targets)]
        data, headers = body(100 * MiB)
        resp = requests.post(served.url + path, data=data, headers={**BROWSER, **headers}, timeout=60)
        answers.append((path, body.__name__, resp.status_code))
        opened += temp_files(pid, served.scratch)
    peak = status_kib(pid, "VmHWM")  # the highest resident size the process ever had
    assert (peak - before) / 1024 < 50, f"resident memory grew by {(peak - before) / 1024:.0f} MiB"
    assert opened == [] and temp_files(pid, served.scratch) == []
    assert {(p, b, s) for p, b, s in answers} == {
        ("/s/x", "urlencoded", 413), ("/s/x", "multipart", 415), ("/a/x", "urlencoded", 413),
        ("/a/x", "multipart", 415), ("/u/x", "urlencoded", 404), ("/u/x", "multipart", 404)}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(served):
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as conn:
        conn.sendall(b"POST /s/x HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 104857600\r\n\r\n")  # and not one byte of it
        head = conn.recv(65536).split(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 413") and b"content-type: text/html" in head
    assert b"content-security-policy:" in head
