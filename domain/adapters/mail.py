"""Mailers (domain/mail.py): SMTP through aiosmtplib, or a log line when none is configured.

`CODEDROP_SMTP_URL` names the server: `smtps://user:pass@host:465` speaks TLS from the first
byte; `smtp://user:pass@host:587` upgrades with STARTTLS when the server offers it
(`?starttls=required` refuses a server that does not, `?starttls=no` never upgrades). The
user name and password are percent-decoded. Each message opens its own connection: notices
go out at a paced rate, so a pooled connection would mostly sit idle and time out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from domain.mail import Mail, MailDeferred, Mailer, MailRefused, masked_address
from domain.settings import Settings
from domain.waitlist import MailSetup

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to hand mail over, parsed from `CODEDROP_SMTP_URL`."""

    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    use_tls: bool = False
    start_tls: bool | None = None  # None: when offered

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("an SMTP URL looks like smtp://host:587 or smtps://host:465")
        implicit = parts.scheme == "smtps"
        starttls = parse_qs(parts.query).get("starttls", ["auto"])[0]
        start_tls = {"required": True, "yes": True, "no": False}.get(starttls)
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit,
            start_tls=False if implicit else start_tls,
        )


def message_of(mail: Mail, sender: str) -> EmailMessage:
    """The MIME message of `mail`, from `sender`."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.to
    msg["Subject"] = " ".join(mail.subject.split())  # one line, whatever a campaign is named
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    for name, value in mail.headers.items():
        msg[name] = value
    msg.set_content(mail.text)
    return msg


class SmtpMailer:
    """Sends each mail through the configured SMTP server."""

    sends = True

    def __init__(self, server: SmtpServer, sender: str, *, timeout: float) -> None:
        self.server = server
        self.sender = sender
        self.timeout = timeout

    async def send(self, mail: Mail) -> None:
        s = self.server
        try:
            await aiosmtplib.send(
                message_of(mail, self.sender),
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                use_tls=s.use_tls,
                start_tls=s.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if all(400 <= c < 500 for c in codes):
                raise MailDeferred(f"recipient deferred: {codes}") from None
            raise MailRefused(f"recipient refused: {codes}") from None
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise MailDeferred(f"{exc.code} {exc.message[:120]}") from None
            raise MailRefused(f"{exc.code} {exc.message[:120]}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # connection refused or lost, timeouts, TLS trouble: the server may be back later
            raise MailDeferred(f"{type(exc).__name__}: {exc}"[:200]) from None
        log.info("mail sent to %s: %s", masked_address(mail.to), mail.subject)


class LogMailer:
    """The embedded default: no mail leaves; one log line says what would have."""

    sends = False

    async def send(self, mail: Mail) -> None:
        log.info(
            "mail not sent (no CODEDROP_SMTP_URL): to %s: %s", masked_address(mail.to), mail.subject
        )


def build_mailer(settings: Settings) -> Mailer:
    """SMTP when a server and a From address are configured, else the log."""
    if settings.smtp_url is not None and settings.smtp_from:
        server = SmtpServer.parse(settings.smtp_url.get_secret_value())
        return SmtpMailer(server, settings.smtp_from, timeout=settings.smtp_timeout_seconds)
    return LogMailer()


def mail_setup(settings: Settings) -> MailSetup:
    """The mailer and link settings of waitlist mail, for one process."""
    return MailSetup(
        mailer=build_mailer(settings),
        public_url=settings.public_url,
        unsubscribe_mailto=settings.smtp_unsubscribe_mailto,
        confirm_ttl=timedelta(days=settings.waitlist_confirm_days),
    )
