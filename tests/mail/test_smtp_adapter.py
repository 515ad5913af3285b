"""The SMTP adapter's own rules: what an SMTP URL means, and headers that stay one line."""

from __future__ import annotations

from domain.adapters.mail import SmtpServer, message_of
from domain.mail import Mail, masked_address


def test_an_smtp_url_names_the_server_its_tls_and_its_decoded_credentials() -> None:
    plain = SmtpServer.parse("smtp://us%40er:p%3Ass@mail.example.com?starttls=required")
    assert (plain.host, plain.port, plain.username, plain.password) == (
        "mail.example.com",
        587,
        "us@er",
        "p:ss",
    )
    assert (plain.use_tls, plain.start_tls) == (False, True)
    assert "p:ss" not in repr(plain)
    implicit = SmtpServer.parse("smtps://relay.example.com")
    assert (implicit.port, implicit.use_tls, implicit.start_tls) == (465, True, False)
    assert SmtpServer.parse("smtp://h:25").start_tls is None  # when the server offers it
    assert SmtpServer.parse("smtp://h:25?starttls=no").start_tls is False


def test_a_campaign_name_with_line_breaks_cannot_add_headers() -> None:
    mail = Mail(
        to="a@example.com", subject="Codes are back: Drop\r\nBcc: victim@example.com", text="x"
    )
    msg = message_of(mail, "Drops <drops@example.com>")
    assert msg["Subject"] == "Codes are back: Drop Bcc: victim@example.com"
    assert msg["Bcc"] is None and msg["Message-ID"].endswith("@example.com>")


def test_a_masked_address_keeps_the_domain_and_one_letter() -> None:
    assert masked_address("private.person@example.com") == "p***@example.com"
    assert masked_address("no-at-sign") == "***"
