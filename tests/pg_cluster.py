"""A real PostgreSQL server for the tests: a temporary cluster made with ``initdb`` and run with ``pg_ctl``
(as the ``postgres`` user when the tests run as root: PostgreSQL refuses root) on 127.0.0.1 at a free port.
``scripts/setup.sh`` installs PostgreSQL; when its binaries are missing the tests fail and say so."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

from env_servers import free_port


def postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is missing: run scripts/setup.sh (it installs the Debian package "
                           "postgresql) or apt-get install postgresql")
    return found


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """A fresh PostgreSQL server until the block ends; yields its URL (``postgresql://postgres@127.0.0.1:PORT/
    postgres``, trust authentication on localhost)."""
    initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
    root = tempfile.mkdtemp(prefix="selfgym-pg-")
    data = os.path.join(root, "data")
    user = None
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)

    def as_owner() -> None:
        if user is not None:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

    def run(*command: str) -> None:
        done = subprocess.run(command, preexec_fn=as_owner, capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")

    port = free_port()
    try:
        run(initdb, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=60"
        run(pg_ctl, "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w", "-t", "60", "start")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"], preexec_fn=as_owner,
                           capture_output=True, timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)
