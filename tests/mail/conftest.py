"""A local SMTP server (aiosmtpd) started by the tests on a free port, and services that
send to it.

The server keeps every message it accepts; `fail_next` makes it answer the next DATA
commands with a given code (451: try later, 550: never), so retries are tested against
real SMTP answers.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from tortoise.connection import get_connection

from domain.adapters.bootstrap import Services
from domain.adapters.mail import mail_setup
from domain.settings import Settings

PUBLIC_URL = "https://drops.example.com"
MAILBOX = "unsubscribe@drops.example.com"
LINK = re.compile(r"https://drops\.example\.com(/c/[^\s?]+)\?token=([A-Za-z0-9_%\-]+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """What the server accepted, and the failures it still has to answer with."""

    messages: list[EmailMessage] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def fail_next(self, n: int, answer: str = "451 4.3.0 try again later") -> None:
        self.failures += [answer] * n

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def about(self, subject_start: str) -> list[EmailMessage]:
        return [m for m in self.messages if str(m["Subject"]).startswith(subject_start)]

    # aiosmtpd handler hook
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.failures:
            return self.failures.pop(0)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


def link_in(message: EmailMessage, kind: str) -> tuple[str, str]:
    """(path, token) of the `kind` link (`confirm`, `unsubscribe`) in a mail's text."""
    body = message.get_body(("plain",))
    assert body is not None
    for path, token in LINK.findall(body.get_content()):
        if path.endswith(f"/waitlist/{kind}"):
            return path, token
    raise AssertionError(f"no {kind} link in the mail")


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """An SMTP server on 127.0.0.1 and a free port, for this test."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail_settings(base: Settings, port: int, **extra: object) -> Settings:
    values: dict[str, object] = {
        "smtp_url": SecretStr(f"smtp://127.0.0.1:{port}?starttls=no"),
        "smtp_from": "Drops <drops@example.com>",
        "smtp_unsubscribe_mailto": MAILBOX,
        "public_url": PUBLIC_URL,
        "smtp_timeout_seconds": 5.0,
        "waitlist_mail_rate": "1000/minute",
    }
    values.update(extra)
    return base.model_copy(update=values)


@pytest.fixture
async def inbox(smtp_server: tuple[Inbox, int]) -> Inbox:
    return smtp_server[0]


@pytest.fixture
async def mail_services(
    services: Services, smtp_server: tuple[Inbox, int]
) -> AsyncIterator[Services]:
    """The test's services, sending waitlist mail to the local server; the waitlist's own
    tables emptied (the shared `db` fixture empties the older ones)."""
    conn = get_connection("default")
    for table in ("waitlist_notices", "waitlist_restocks", "waitlist"):
        await conn.execute_script(f"DELETE FROM {table}")
    settings = mail_settings(services.settings, smtp_server[1])
    yield replace(services, settings=settings, mail=mail_setup(settings))


@pytest.fixture
async def mail_app(mail_services: Services) -> AsyncIterator[object]:
    from api.app import create_app

    yield create_app(mail_services.settings, mail_services, manage_database=False)


@pytest.fixture
async def member(mail_app: object) -> AsyncIterator[httpx.AsyncClient]:
    """A visitor of the claim page, with their own cookie jar."""
    transport = httpx.ASGITransport(app=mail_app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as http:
        yield http
