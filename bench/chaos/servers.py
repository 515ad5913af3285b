"""The processes the chaos harness owns: a private MariaDB, a private Redis, the API workers.

Every server runs on a free port with its own data folder under one work directory, so the
harness can SIGKILL and restart any of them without touching the machine's shared services.
Processes are stopped by their own pid only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: object, what: str, timeout: float) -> float:
    """Poll `check()` until it is true; the seconds it took (raises after `timeout`)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class MariaDB:
    """A private `mariadbd` with its own data folder, socket and port (root, no password)."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "mariadb"
        self.datadir = self.dir / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mysql://root:@127.0.0.1:{self.port}/codedrop"

    def install(self) -> None:
        """Create the data folder (`mariadb-install-db`) and the `codedrop` database."""
        self.dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                shutil.which("mariadb-install-db") or "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--user=" + _user(),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.start()
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="")
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE DATABASE codedrop CHARACTER SET utf8mb4")
            conn.commit()
        finally:
            conn.close()

    def start(self, timeout: float = 60) -> float:
        """Start the server; seconds until it accepts connections."""
        binary = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        self.proc = subprocess.Popen(
            [
                binary,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--socket={self.dir / 'mariadb.sock'}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.dir / 'mariadb.pid'}",
                f"--log-error={self.dir / 'error.log'}",
                "--user=" + _user(),
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=128M",
                "--max-connections=500",
                # durable commits, the default: an acknowledged claim must survive a SIGKILL
                "--innodb-flush-log-at-trx-commit=1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return _wait(self._answers, "MariaDB", timeout)

    def _answers(self) -> bool:
        import pymysql

        try:
            pymysql.connect(
                host="127.0.0.1", port=self.port, user="root", password="", connect_timeout=1
            ).close()
            return True
        except pymysql.MySQLError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush beyond what InnoDB already made durable."""
        _stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        _stop(self.proc)


class Redis:
    """A private `redis-server` on a free port, no persistence."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "redis"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20) -> float:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--logfile",
                str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return _wait(lambda: _port_open(self.port), "Redis", timeout)

    def stop(self) -> None:
        _stop(self.proc)


class ApiService:
    """`codedrop api --workers N` (uvicorn's supervisor restarts a worker that dies)."""

    def __init__(self, workdir: Path, env: dict[str, str], workers: int) -> None:
        self.dir = workdir / "api"
        self.env = env
        self.workers = workers
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: object = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _codedrop(self) -> list[str]:
        return [sys.executable, "-m", "cli"]

    def migrate(self) -> None:
        subprocess.run(
            [*self._codedrop(), "migrate"],
            cwd=ROOT,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self, timeout: float = 90) -> float:
        self.dir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.dir / "api.log", "ab")  # noqa: SIM115 (kept open for the process)
        self._log = log_file
        self.proc = subprocess.Popen(
            [
                *self._codedrop(),
                "api",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log_file,
            stderr=log_file,
        )
        took = _wait(self._ready, "the API", timeout)
        if self.workers > 1:  # one worker runs inside the supervisor's own process
            _wait(lambda: len(self.worker_pids()) == self.workers, "every API worker", timeout)
        return took

    def _ready(self) -> bool:
        try:
            return httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children of the supervisor that serve requests)."""
        if self.proc is None:
            return []
        pids = []
        for child in _children(self.proc.pid):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                    pids.append(child)
        return sorted(pids)

    def kill_worker(self) -> int:
        """SIGKILL one worker mid-load; its pid."""
        victim = self.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        return victim

    def wait_replaced(self, victim: int, timeout: float = 60) -> float:
        """Seconds until the supervisor runs a full set of workers again without `victim`."""
        return _wait(
            lambda: victim not in (pids := self.worker_pids()) and len(pids) == self.workers,
            "a replacement worker",
            timeout,
        )

    def unexpected_errors(self, since: int) -> tuple[list[str], int]:
        """The exception lines of 500s logged after byte `since` of the log, and its new end."""
        path = self.dir / "api.log"
        if not path.exists():
            return [], since
        data = path.read_bytes()
        found: list[str] = []
        lines = data[since:].decode(errors="replace").splitlines()
        for n, line in enumerate(lines):
            if "unexpected error ref=" in line:
                last = line
                for t in lines[n + 1 : n + 200]:
                    if t.startswith(("ERROR:", "WARNING:", "INFO:")):
                        break
                    if t and not t.startswith((" ", "\t", "Traceback", "During", "The above")):
                        last = t
                found.append(last[:300])
        return found, len(data)

    def stop(self) -> None:
        """Stop the supervisor; then SIGKILL any of its workers that did not exit with it."""
        workers = self.worker_pids()
        _stop(self.proc, signal.SIGINT)
        for pid in workers:
            with contextlib.suppress(OSError):
                if b"spawn_main" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    continue  # gone (and the pid perhaps reused): not ours any more
                os.kill(pid, signal.SIGKILL)
                log.warning("API worker %d outlived its supervisor; killed", pid)
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            found.extend(int(p) for p in text.split())
    return found


def _user() -> str:
    import getpass

    return getpass.getuser()
