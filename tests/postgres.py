"""A throwaway PostgreSQL server for the postgresql lane, started from the machine's binaries.

initdb into a temporary directory, start on a free loopback port, hand back a URL, and stop
and delete everything afterwards. PostgreSQL refuses to run as root, so when the tests run as
root the server runs as the ``postgres`` (or ``nobody``) user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SEARCH_PATHS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
HOW_TO_GET = "install PostgreSQL server binaries (Debian: apt-get install postgresql)"


def find_binaries() -> Path | None:
    for directory in [*SEARCH_PATHS, *(Path(p) for p in os.environ["PATH"].split(os.pathsep))]:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and no postgres or nobody user to run PostgreSQL as")


def _run(args: list[str], user: pwd.struct_passwd | None) -> None:
    """Run a PostgreSQL tool, as ``user`` when given (no root groups kept); show its errors."""
    demote: dict[str, object] = {}
    if user is not None:
        demote = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    result = subprocess.run(args, capture_output=True, text=True, check=False, **demote)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise RuntimeError(f"{Path(args[0]).name} failed ({result.returncode}): {output}")


@contextmanager
def throwaway_server() -> Iterator[str]:
    binaries = find_binaries()
    if binaries is None:
        raise RuntimeError(f"PostgreSQL not found: {HOW_TO_GET}")
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="servlet-desk-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if user is not None:
        for path in (root, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    port = _free_port()
    _run(
        [
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "test",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ],
        user,
    )
    options = f"-h 127.0.0.1 -p {port} -k {sockets} -F -c fsync=off -c full_page_writes=off"
    _run(
        [
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(root / "server.log"),
            "start",
        ],
        user,
    )
    try:
        subprocess.run(
            [
                str(binaries / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "test",
                "servlet_desk",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://test@127.0.0.1:{port}/servlet_desk"
    finally:
        try:
            _run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], user)
        finally:
            shutil.rmtree(root, ignore_errors=True)
