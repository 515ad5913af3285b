"""The `Mailer` interface: how the domain hands an e-mail to the world.

Two implementations in domain/adapters/mail.py: `SmtpMailer` (aiosmtplib, when
`CODEDROP_SMTP_URL` and `CODEDROP_SMTP_FROM` are set) and `LogMailer`, the embedded default,
which sends nothing and writes one log line without the address in full. A mailer raises
`MailDeferred` when the message may go through later (the server is away, busy, or answered
4xx) and `MailRefused` when it never will (a 5xx for the recipient): the sender of restock
notices retries the first and gives up on the second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Mail:
    """One plain-text message to one address; `headers` are added as given."""

    to: str
    subject: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)


class MailDeferred(Exception):
    """The message was not accepted this time; trying again later may work."""


class MailRefused(Exception):
    """The message will never be accepted (a permanent SMTP answer)."""


class Mailer(Protocol):
    @property
    def sends(self) -> bool:
        """True when mail really leaves this server (pages tell members whether it does)."""
        ...

    async def send(self, mail: Mail) -> None: ...


def masked_address(address: str) -> str:
    """`f***@example.com`: enough to follow a mail in the logs, not to write to the person."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"
