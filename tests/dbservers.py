"""Throw-away MariaDB and PostgreSQL servers for tests (Debian packages mariadb-server, postgresql).

Each server lives in a temporary folder, listens on 127.0.0.1 on a free port (and a unix socket in the
folder), and is stopped and removed by :meth:`stop`. MariaDB runs as root with ``--user=root``;
PostgreSQL refuses root, so it runs as the ``postgres`` user (created by the Debian package) through
``runuser``, or as the current user when that is not root. :func:`mariadb_available` and
:func:`postgres_available` say why a server cannot start (binaries missing), for a skip reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _which(*names: str) -> str | None:
    for n in names:
        p = shutil.which(n) or (n if os.path.isfile(n) and os.access(n, os.X_OK) else None)
        if p:
            return p
    return None


def mariadb_available() -> str | None:
    """None when MariaDB can be started here, else why not."""
    missing = [n for n, found in (("mariadbd", _which("mariadbd", "/usr/sbin/mariadbd", "mysqld")),
                                  ("mariadb-install-db", _which("mariadb-install-db", "mysql_install_db")),
                                  ("mariadb", _which("mariadb", "mysql")),
                                  ("mariadb-dump", _which("mariadb-dump", "mysqldump"))) if not found]
    return f"MariaDB binaries missing: {', '.join(missing)} (apt-get install mariadb-server)" if missing else None


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def postgres_available() -> str | None:
    b = _pg_bin()
    if b is None or not (b / "pg_ctl").exists() or not (b / "pg_dump").exists():
        return "PostgreSQL binaries missing under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run PostgreSQL as"
    return None


def _run(cmd: list[str], *, stdin=None, stdout=None, timeout: float = 600, user: str | None = None,  # noqa: ANN001
         env: dict | None = None) -> subprocess.CompletedProcess:
    if user:
        cmd = ["runuser", "-u", user, "--"] + cmd
    res = subprocess.run(cmd, stdin=stdin, stdout=stdout if stdout is not None else subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=timeout, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])} failed ({res.returncode}): {res.stderr.decode(errors='replace')[-2000:]}")
    return res


def _feed(path: Path):  # noqa: ANN202
    """A process reading a (possibly compressed) dump to stdout, for piping into a client."""
    if str(path).endswith(".gz"):
        return subprocess.Popen(["gzip", "-dc", str(path)], stdout=subprocess.PIPE)
    if str(path).endswith(".zst"):
        return subprocess.Popen(["zstd", "-dc", str(path)], stdout=subprocess.PIPE)
    return None


class MariaDB:
    """``with MariaDB() as db: db.load("forum", dump); db.dump("forum", out); db.url("forum")``."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fs-mariadb-"))
        self.port = free_port()
        self.socket = self.dir / "mysqld.sock"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "MariaDB":
        data = self.dir / "data"
        data.mkdir()
        _run([_which("mariadb-install-db", "mysql_install_db"), "--user=root", f"--datadir={data}",
              "--auth-root-authentication-method=normal", "--skip-test-db"], timeout=300)
        log = open(self.dir / "error.log", "wb")
        self.proc = subprocess.Popen(
            [_which("mariadbd", "/usr/sbin/mariadbd", "mysqld"), "--no-defaults", "--user=root", f"--datadir={data}",
             f"--socket={self.socket}", f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--pid-file={self.dir / 'mysqld.pid'}", "--innodb-buffer-pool-size=256M", "--max-allowed-packet=1G",
             "--innodb-log-file-size=256M", "--skip-log-bin", "--character-set-server=utf8mb4"],
            stdout=log, stderr=log)
        for _ in range(600):
            if self.socket.exists():
                try:
                    self.sql("SELECT 1")
                    return self
                except RuntimeError:
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError("mariadbd exited: " + (self.dir / "error.log").read_text(errors="replace")[-2000:])
            time.sleep(0.1)
        raise RuntimeError("mariadbd did not start in 60 s")

    def client(self, *args: str) -> list[str]:
        return [_which("mariadb", "mysql"), f"--socket={self.socket}", "-uroot", *args]

    def sql(self, statement: str, db: str | None = None) -> str:
        res = _run(self.client(*([db] if db else []), "-N", "-B", "-e", statement), timeout=120)
        return res.stdout.decode()

    def load(self, db: str, dump: Path) -> float:
        """Create ``db`` and run the dump into it with the real client; returns the seconds it took."""
        self.sql(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        t0 = time.perf_counter()
        feeder = _feed(dump)
        if feeder is not None:
            _run(self.client("--max-allowed-packet=1G", db), stdin=feeder.stdout, timeout=3600)
            feeder.wait()
        else:
            with open(dump, "rb") as fh:
                _run(self.client("--max-allowed-packet=1G", db), stdin=fh, timeout=3600)
        return time.perf_counter() - t0

    def dump(self, db: str, out: Path, *extra: str) -> Path:
        """Dump ``db`` again with the real mariadb-dump (default options: extended inserts, LOCK TABLES)."""
        with open(out, "wb") as fh:
            _run([_which("mariadb-dump", "mysqldump"), f"--socket={self.socket}", "-uroot", *extra, db], stdout=fh,
                 timeout=3600)
        return out

    def url(self, db: str) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "MariaDB":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Postgres:
    """``with Postgres() as pg: pg.load("forum", dump); pg.dump("forum", out); pg.url("forum")``."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.dir = Path(tempfile.mkdtemp(prefix="fs-postgres-"))
        self.port = free_port()
        self.started = False

    def _owned(self, path: Path) -> None:
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def start(self) -> "Postgres":
        assert self.bin is not None
        os.chmod(self.dir, 0o755)
        data = self.dir / "data"
        data.mkdir()
        self._owned(self.dir)
        self._owned(data)
        _run([str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
              "--locale=C.UTF-8"], user=self.user, timeout=300)
        _run([str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "server.log"), "-w", "-t", "120",
              "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c full_page_writes=off -c synchronous_commit=off", "start"], user=self.user, timeout=180)
        self.started = True
        return self

    def client(self, db: str, *args: str) -> list[str]:
        return [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
                "-v", "ON_ERROR_STOP=1", "-q", *args]

    def sql(self, statement: str, db: str = "postgres") -> str:
        return _run(self.client(db, "-At", "-c", statement), timeout=120).stdout.decode()

    def load(self, db: str, dump: Path) -> float:
        self.sql(f'CREATE DATABASE "{db}" ENCODING \'UTF8\' TEMPLATE template0')
        t0 = time.perf_counter()
        feeder = _feed(dump)
        if feeder is not None:
            _run(self.client(db), stdin=feeder.stdout, timeout=3600)
            feeder.wait()
        else:
            with open(dump, "rb") as fh:
                _run(self.client(db), stdin=fh, timeout=3600)
        return time.perf_counter() - t0

    def dump(self, db: str, out: Path, *extra: str) -> Path:
        with open(out, "wb") as fh:
            _run([str(self.bin / "pg_dump"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", *extra, db],
                 stdout=fh, timeout=3600)
        return out

    def url(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if self.started:
            try:
                _run([str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"],
                     user=self.user, timeout=120)
            except RuntimeError:
                pass
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Postgres":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
