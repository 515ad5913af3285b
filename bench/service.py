"""The service under test for the HTTP benchmarks: `codedrop api --workers N` on a fresh
MariaDB database, and the CPU each process used while a benchmark ran.

`Service` creates its own database on the machine's MariaDB (127.0.0.1:3306, root), migrates
it, creates a developer and an API key with the `codedrop` command, starts the API and drops
the database again when it stops. `CpuSampler` reads /proc every 100 ms so a figure can be
printed beside what the load generator, the API workers and MariaDB used to produce it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import pymysql

ROOT = Path(__file__).resolve().parent.parent
HOST, PORT, USER = "127.0.0.1", 3306, "root"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin(sql: str, database: str | None = None) -> list[tuple[object, ...]]:
    """Run one statement on the machine's MariaDB as root; its rows."""
    conn = pymysql.connect(host=HOST, port=PORT, user=USER, password="", database=database)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            rows = list(cur.fetchall())
        conn.commit()
        return rows
    finally:
        conn.close()


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server at {url} did not start")


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found.extend(int(p) for p in (task / "children").read_text().split())
    return found


class Service:
    """`codedrop api --workers N` on a fresh database (a context manager)."""

    def __init__(self, *, workers: int = 2, pool: int = 4, extra_env: dict[str, str] | None = None):
        self.workers = workers
        self.database = f"codedrop_bench_{secrets.token_hex(3)}"
        self.url = f"mysql://{USER}:@{HOST}:{PORT}/{self.database}"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CODEDROP_ENV_FILE": "",
            "CODEDROP_DATABASE_URL": self.url,
            "CODEDROP_DATABASE_POOL_SIZE": str(pool),
            # the limiter stays on (it is part of every claim's cost); only the per-IP limit
            # is raised, since every client of a benchmark is 127.0.0.1
            "CODEDROP_RATE_LIMIT_DISTRIBUTE_IP": "100000000/minute",
            "CODEDROP_SCHEDULER_ENABLED": "false",
            "CODEDROP_LOG_LEVEL": "WARNING",
            "CODEDROP_UPLOAD_MAX_BYTES": str(64 * 1024 * 1024),
            **(extra_env or {}),
        }
        self.key = ""
        self.server: subprocess.Popen[bytes] | None = None

    def _codedrop(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def __enter__(self) -> Service:
        admin(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4")
        try:
            self._codedrop("migrate")
            out = self._codedrop(
                "developers", "create", "--name", "Bench", "--email", "bench@example.com"
            )
            self.key = out.strip().splitlines()[-1]
            self.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def start(self) -> None:
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "api",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_ready(self.base)
        deadline = time.monotonic() + 30
        while self.workers > 1 and len(self.worker_pids()) < self.workers:
            if time.monotonic() > deadline:
                raise SystemExit("the API workers did not all start")
            time.sleep(0.1)

    def stop_server(self) -> None:
        if self.server is not None:
            stop(self.server)
            self.server = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_server()
        admin(f"DROP DATABASE IF EXISTS `{self.database}`")

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (the supervisor itself with one worker)."""
        if self.server is None:
            return []
        if self.workers == 1:
            return [self.server.pid]
        pids = []
        for pid in children(self.server.pid):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                    pids.append(pid)
        return pids

    def new_campaign(self, codes: int, prefix: str, name: str = "drop") -> str:
        """A campaign with `codes` codes uploaded over HTTP; its public id."""
        auth = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.base, headers=auth, timeout=120) as http:
            r = http.post("/api/campaigns", json={"name": name, "platform": "ios"})
            r.raise_for_status()
            cid = str(r.json()["id"])
            body = "code\n" + "".join(f"{prefix}{i:08d}\n" for i in range(codes))
            up = http.post(
                f"/api/campaigns/{cid}/codes",
                files={"file": ("codes.csv", body.encode(), "text/csv")},
            )
            up.raise_for_status()
            if up.json()["imported"] != codes:
                raise SystemExit(f"uploaded {codes} codes, {up.json()['imported']} imported")
        return cid


def mariadb_pids() -> list[int]:
    """The pid of the MariaDB server the benchmarks use (to show its CPU beside a figure)."""
    ((pid_file,),) = admin("SELECT @@pid_file")
    with contextlib.suppress(OSError, ValueError):
        return [int(Path(str(pid_file)).read_text().split()[0])]
    return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (its own threads, not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


@dataclass
class CpuSampler:
    """Samples the CPU of named groups of processes every `interval` seconds in a thread."""

    groups: dict[str, list[int]]
    interval: float = 0.1
    samples: list[tuple[float, dict[str, float], float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        busy, total = machine_busy()
        per = {name: sum(cpu_seconds(p) for p in pids) for name, pids in self.groups.items()}
        self.samples.append((time.time(), per, busy, total))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def window(self, start: float, end: float) -> dict[str, float]:
        """CPU use between two wall-clock times, in cores (1.0 = one core busy throughout);
        'machine' is the share of all cores busy (0..1)."""
        inside = [s for s in self.samples if start - self.interval <= s[0] <= end + self.interval]
        if len(inside) < 2:
            inside = self.samples[-2:] if len(self.samples) >= 2 else self.samples * 2
        (t0, a, busy0, total0), (t1, b, busy1, total1) = inside[0], inside[-1]
        wall = max(t1 - t0, 1e-6)
        out = {name: (b[name] - a[name]) / wall for name in a}
        out["machine"] = (busy1 - busy0) / max(total1 - total0, 1e-6)
        return out
