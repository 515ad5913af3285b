"""uvicorn's HTTP/1.1 protocol with a deadline on the request head.

uvicorn 0.54 bounds an idle keep-alive connection (`timeout_keep_alive`) but not a request
whose line and headers trickle in: a client that sends one header byte a second holds a
connection (and its buffers) for as long as it likes, and enough of them exhaust the worker's
sockets. `HeadDeadlineProtocol` starts a timer when a connection opens and at the first byte
of every later request on it and, unless the head is complete when it fires, answers 408 and
closes the connection (between requests, uvicorn's keep-alive timeout applies). Body pauses are
api/edge.py's (`CODEDROP_HTTP_BODY_TIMEOUT`): once the head is in, the app is in charge.

`codedrop run` and `codedrop api` select it (cli/parts.py); with `--workers N` each worker
imports it by name and reads `CODEDROP_HTTP_HEAD_TIMEOUT` from its environment.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

IMPORT_PATH = "api.http_protocol:HeadDeadlineProtocol"
_MESSAGE = b"The request line and headers took too long to arrive."
_RESPONSE_408 = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(_MESSAGE)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _MESSAGE
)


class HeadDeadlineProtocol(HttpToolsProtocol):
    """httptools' protocol (uvicorn's default) that answers 408 to a head slower than
    `head_timeout` seconds."""

    head_timeout: ClassVar[float | None] = None  # None: read from the settings at first use

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    @classmethod
    def _timeout(cls) -> float:
        if cls.head_timeout is None:
            from domain.settings import get_settings

            cls.head_timeout = get_settings().http_head_timeout
        return cls.head_timeout

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_deadline is None:
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._cancel_head_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._head_deadline = self.loop.call_later(self._timeout(), self._head_too_slow)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.write(_RESPONSE_408)
            self.transport.close()


def with_head_timeout(seconds: float) -> type[HeadDeadlineProtocol]:
    """The protocol with its deadline fixed (a server in this process, built from a
    `Settings` object rather than the environment)."""
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"head_timeout": seconds})
