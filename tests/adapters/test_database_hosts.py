"""Several database hosts in one URL, and the back-off of a failed host."""

from __future__ import annotations

import pytest

from domain.adapters.db import connection_config, describe_database, split_hosts
from domain.adapters.mysql_client import Hosts
from domain.settings import Settings


def test_a_url_with_several_hosts_keeps_them_in_order_with_default_ports() -> None:
    url, hosts = split_hosts("mysql://u:p@db1:3307,db2,10.0.0.3:3309/codedrop?x=1")
    assert url == "mysql://u:p@db1:3307/codedrop?x=1"
    assert hosts == [("db1", 3307), ("db2", 3306), ("10.0.0.3", 3309)]


def test_an_empty_host_in_the_list_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        split_hosts("mysql://u:p@db1:3306,,db2/codedrop")


def test_the_client_gets_every_host_and_the_description_names_them_and_the_replica() -> None:
    s = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url="mysql://u:secret@db1:3306,db2:3307/codedrop",
        database_read_url="mysql://u:secret@replica:3306/codedrop",
    )
    config = connection_config(s)
    assert isinstance(config, dict)
    assert config["credentials"]["hosts"] == [("db1", 3306), ("db2", 3307)]
    assert config["credentials"]["host"] == "db1"
    text = describe_database(s)
    assert "db1:3306,db2:3307/codedrop" in text and "reads from replica:3306" in text
    assert "secret" not in text


def test_a_failed_host_is_skipped_for_its_back_off_then_tried_again() -> None:
    hosts = Hosts([("a", 1), ("b", 2)], backoff=0.05)
    hosts.failed("a", 1)
    assert hosts.candidates() == [("b", 2)]
    hosts.failed("b", 2)
    assert hosts.candidates() == [("a", 1), ("b", 2)]  # all in back-off: try them all anyway
    hosts.succeeded("a", 1)
    assert hosts.candidates()[0] == ("a", 1)
