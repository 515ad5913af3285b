"""A private 3-node MariaDB Galera cluster: each node a `mariadbd` in its own network namespace.

Node 1 bootstraps the cluster (`--wsrep-new-cluster`), the others join it and receive its
state by rsync (SST). A restarted node first recovers its last committed position from InnoDB
(`--wsrep-recover`) and rejoins from there (IST from a peer's write-set cache). Every node has
its own data folder under the work directory, durable commits, `binlog_format=ROW` and
`innodb_autoinc_lock_mode=2` (Galera's requirements), and short failure-detection timeouts so
that a dead or cut-off node is evicted within seconds. Processes are stopped by their own pid.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pymysql

from bench.chaos.netns import Network
from bench.chaos.servers import _stop, _wait

log = logging.getLogger(__name__)

PROVIDER = "/usr/lib/galera/libgalera_smm.so"
PORT = 3306
# the nodes run as the server's own user: the joiner's rsync daemon (SST) runs as that user
# too, and as root it would drop to `nobody`, which may not write the data folder
USER = "mysql"
# keepalive ≤ inactive check ≤ suspect ≤ inactive: a silent peer is evicted in about 3 s
PROVIDER_OPTIONS = (
    "gcache.size=64M;evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S;"
    "evs.suspect_timeout=PT2S;evs.inactive_timeout=PT3S;evs.install_timeout=PT3S;"
    "gmcast.peer_timeout=PT2S;pc.wait_prim_timeout=PT10S"
)


def galera_available() -> str | None:
    """Why a cluster cannot run here, or None when it can."""
    if not Path(PROVIDER).exists():
        return f"Galera is not installed ({PROVIDER} missing: apt-get install galera-4)"
    if shutil.which("rsync") is None:
        return "rsync is missing (the joining nodes receive their state by rsync)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"the user {USER!r} is missing (the MariaDB server package creates it)"
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


class GaleraNode:
    """One node: data folder, process, and where clients reach it."""

    def __init__(self, cluster: GaleraCluster, index: int) -> None:
        self.cluster = cluster
        self.index = index
        self.dir = cluster.workdir / f"node{index}"
        self.datadir = self.dir / "data"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return self.cluster.net.client_address(self.index)

    @property
    def address(self) -> str:
        return f"{self.host}:{PORT}"

    @property
    def url(self) -> str:
        """A URL naming only this node."""
        return f"mysql://root:@{self.address}/codedrop"

    def _args(self) -> list[str]:
        net = self.cluster.net
        peers = ",".join(net.cluster_address(i) for i in range(1, self.cluster.size + 1))
        return [
            shutil.which("mariadbd") or "/usr/sbin/mariadbd",
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.dir / 'mariadb.sock'}",
            f"--port={PORT}",
            "--bind-address=0.0.0.0",
            f"--pid-file={self.dir / 'mariadb.pid'}",
            f"--log-error={self.dir / 'error.log'}",
            f"--user={USER}",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--max-connections=500",
            "--innodb-flush-log-at-trx-commit=1",
            "--binlog-format=ROW",
            "--innodb-autoinc-lock-mode=2",
            "--wsrep-on=ON",
            f"--wsrep-provider={PROVIDER}",
            f"--wsrep-cluster-address=gcomm://{peers}",
            f"--wsrep-cluster-name=codedrop-{net.tag}",
            f"--wsrep-node-name=node{self.index}",
            f"--wsrep-node-address={net.cluster_address(self.index)}",
            "--wsrep-sst-method=rsync",
            f"--wsrep-provider-options={PROVIDER_OPTIONS}",
        ]

    def recover_position(self) -> str | None:
        """The last committed position InnoDB holds (`uuid:seqno`), via `--wsrep-recover`."""
        log_file = self.dir / "recover.log"
        args = [a for a in self._args() if not a.startswith("--log-error")]
        subprocess.run(
            [
                *self.cluster.net.exec_prefix(self.index),
                *args,
                "--wsrep-recover",
                f"--log-error={log_file}",
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )
        found = re.findall(r"Recovered position: (\S+:-?\d+)", log_file.read_text(errors="replace"))
        return found[-1] if found else None

    def start(
        self, *, bootstrap: bool = False, recover: bool = False, timeout: float = 120
    ) -> float:
        """Start the node (bootstrap a new cluster, or join); seconds until it is synced."""
        started = time.monotonic()
        extra = ["--wsrep-new-cluster"] if bootstrap else []
        if recover:
            position = self.recover_position()
            if position:
                extra.append(f"--wsrep-start-position={position}")
        self.proc = subprocess.Popen(
            [*self.cluster.net.exec_prefix(self.index), *self._args(), *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(
            lambda: self.status().get("wsrep_local_state_comment") == "Synced",
            f"node {self.index}",
            timeout,
        )
        return time.monotonic() - started

    def status(self) -> dict[str, str]:
        """The node's `wsrep_%` status (empty when it does not answer)."""
        if self.proc is None or self.proc.poll() is not None:
            return {}
        try:
            conn = pymysql.connect(
                unix_socket=str(self.dir / "mariadb.sock"), user="root", connect_timeout=1
            )
        except pymysql.MySQLError:
            return {}
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep_%'")
                return {str(k): str(v) for k, v in cur.fetchall()}
        finally:
            conn.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown; the node must recover and rejoin."""
        _stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): the node saves its position and rejoins by IST."""
        _stop(self.proc)


class GaleraCluster:
    """Three (or `size`) nodes in private namespaces; `url` names every node for failover."""

    def __init__(self, workdir: Path, size: int = 3) -> None:
        self.workdir = workdir
        self.size = size
        self.net = Network(size)
        self.nodes = [GaleraNode(self, i) for i in range(1, size + 1)]

    def url(self, first: int = 0) -> str:
        """Every node, starting with node index `first` (0-based), then the others in order."""
        order = self.nodes[first:] + self.nodes[:first]
        return "mysql://root:@" + ",".join(n.address for n in order) + "/codedrop"

    def start(self) -> float:
        """Create the network and data folders, bootstrap node 1, join the others."""
        started = time.monotonic()
        # the nodes' user must be able to walk down to their folders
        self.workdir.chmod(0o755)
        self.net.create()
        first = self.nodes[0]
        first.dir.mkdir(parents=True)
        shutil.chown(first.dir, USER, USER)
        subprocess.run(
            [
                shutil.which("mariadb-install-db") or "mariadb-install-db",
                "--no-defaults",
                f"--datadir={first.datadir}",
                f"--user={USER}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for node in self.nodes[1:]:  # an initialised folder each; the SST replaces it
            shutil.copytree(first.dir, node.dir)
            subprocess.run(["chown", "-R", f"{USER}:{USER}", str(node.dir)], check=True)
        first.start(bootstrap=True)
        conn = pymysql.connect(unix_socket=str(first.dir / "mariadb.sock"), user="root")
        try:
            with conn.cursor() as cur:
                # the API reaches the nodes over their client links, not as localhost
                cur.execute("CREATE USER 'root'@'%' IDENTIFIED BY ''")
                cur.execute("GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION")
                cur.execute("CREATE DATABASE codedrop CHARACTER SET utf8mb4")
        finally:
            conn.close()
        for node in self.nodes[1:]:
            node.start()
        self.wait_size(self.size)
        return time.monotonic() - started

    def wait_size(self, size: int, timeout: float = 60) -> float:
        """Until every running, primary node sees a cluster of `size` nodes."""

        def settled() -> bool:
            views = [n.status() for n in self.nodes]
            live = [v for v in views if v.get("wsrep_cluster_status") == "Primary"]
            return len(live) >= size and all(v.get("wsrep_cluster_size") == str(size) for v in live)

        return _wait(settled, f"a cluster of {size}", timeout)

    def stop(self) -> None:
        """Stop every node and delete the namespaces (also after a failure)."""
        try:
            for node in self.nodes:
                node.stop()
        finally:
            self.net.destroy()
