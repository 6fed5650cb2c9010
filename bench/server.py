"""Serve the app with gunicorn on loopback, run its scheduler beside it and drive it with wrk,
for ``make bench``."""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
FLASK = Path(sys.executable).parent / "flask"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(env: dict[str, str], workers: int = 2) -> Iterator[str]:
    """gunicorn serving ``wsgi:app`` on a free loopback port; yields the base URL."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base + "/ping")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def scheduler(env: dict[str, str], log: Path) -> Iterator[None]:
    """``flask scheduler run`` as a process of its own (as in production), its output in
    ``log``; stopped on leaving."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(FLASK), "--app", "wsgi", "scheduler", "run"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_up(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310  (loopback)
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url}")


def session_cookie(base: str, email: str, password: str) -> str:
    """Sign in through the real form (CSRF included) and return the Cookie header value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/sign-in").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": password})
    opener.open(base + "/sign-in", data=body.encode())
    # What a browser sends with a page: not the known-browser cookie, which is for /sign-in.
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar if c.path == "/")
    if "session=" not in cookies:
        raise RuntimeError("sign-in failed")
    return cookies


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p99_ms: float
    errors: int


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise RuntimeError(f"unexpected wrk latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(url: str, cookie: str | None, connections: int = 8, seconds: int = 10) -> Load:
    """Drive ``url`` with wrk (2 threads) and read its throughput and 99th percentile."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: apt-get install wrk")
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if cookie:
        args[1:1] = ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    if "Requests/sec" not in output or "99%" not in output:
        raise RuntimeError(f"wrk output not understood:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)$", output, re.MULTILINE).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Load(rps, p99, int(errors.group(1)) if errors else 0)
