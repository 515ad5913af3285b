"""Private networks for cluster nodes: network namespaces and veth links the harness creates.

Each node lives in its own namespace with two links:

- a **client link** to the host (`10.R.i.1` on the host, `10.R.i.2` in the node), where the
  API and the checker reach the node's MariaDB port;
- a **cluster link** to a bridge in a switch namespace of its own (`10.R.0.i`), which carries
  Galera's replication traffic between the nodes and nothing else.

A partition brings a node's port on the bridge down: the node loses its peers (and the quorum)
while its clients still reach it, which is exactly the case where a node must refuse rather
than answer. Only the namespaces and links created here are ever touched; `destroy()` deletes
them all (deleting a namespace deletes its ends of the links). Needs root and `ip` (iproute2).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import subprocess

log = logging.getLogger(__name__)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _free_octet() -> int:
    """A second octet R such that no address or route of the host lies in 10.R.0.0/16."""
    taken = subprocess.run(
        ["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True
    )
    text = (
        taken.stdout + subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True).stdout
    )
    choices = [r for r in range(200, 250) if f"10.{r}." not in text]
    if not choices:
        raise RuntimeError("no free 10.R.0.0/16 network for the cluster's namespaces")
    return random.choice(choices)


class Network:
    """The namespaces and links of `nodes` private nodes."""

    def __init__(self, nodes: int) -> None:
        self.nodes = nodes
        self.tag = f"cd{os.getpid() % 1000:03d}{secrets.token_hex(1)}"  # short: link names ≤ 15
        self.octet = _free_octet()  # chosen now: the nodes' addresses are known before they start
        self.created: list[str] = []

    @property
    def switch(self) -> str:
        return f"{self.tag}sw"

    def namespace(self, i: int) -> str:
        """The namespace of node `i` (1-based)."""
        return f"{self.tag}n{i}"

    def cluster_address(self, i: int) -> str:
        return f"10.{self.octet}.0.{i}"

    def client_address(self, i: int) -> str:
        """Where the host reaches node `i`."""
        return f"10.{self.octet}.{i}.2"

    def create(self) -> None:
        """Create the switch, the node namespaces and their links."""
        _ip("netns", "add", self.switch)
        self.created.append(self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        for i in range(1, self.nodes + 1):
            ns = self.namespace(i)
            _ip("netns", "add", ns)
            self.created.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            # client link: host end named after the node, node end eth0
            host_end = f"{self.tag}c{i}"
            _ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("addr", "add", f"10.{self.octet}.{i}.1/24", "dev", host_end)
            _ip("link", "set", host_end, "up")
            _ip("-n", ns, "addr", "add", f"{self.client_address(i)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            # cluster link: node end eth1, switch end a port of the bridge
            port = f"s{i}"
            _ip(
                "-n",
                ns,
                "link",
                "add",
                "eth1",
                "type",
                "veth",
                "peer",
                "name",
                port,
                "netns",
                self.switch,
            )
            _ip("-n", ns, "addr", "add", f"{self.cluster_address(i)}/24", "dev", "eth1")
            _ip("-n", ns, "link", "set", "eth1", "up")
            _ip("-n", self.switch, "link", "set", port, "master", "br0")
            _ip("-n", self.switch, "link", "set", port, "up")

    def exec_prefix(self, i: int) -> list[str]:
        """The command prefix that runs a program inside node `i`'s namespace."""
        return ["ip", "netns", "exec", self.namespace(i)]

    def cut(self, i: int) -> None:
        """Partition node `i` from its peers (its clients still reach it)."""
        _ip("-n", self.switch, "link", "set", f"s{i}", "down")

    def heal(self, i: int) -> None:
        _ip("-n", self.switch, "link", "set", f"s{i}", "up")

    def destroy(self) -> None:
        """Delete every namespace created here (their links go with them)."""
        for ns in reversed(self.created):
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("netns", "del", ns)
        self.created.clear()
        for i in range(1, self.nodes + 1):  # host ends die with their peers; make sure
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("link", "del", f"{self.tag}c{i}")
