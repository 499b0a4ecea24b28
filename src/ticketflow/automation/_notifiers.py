"""Notifiers that ship with ticketflow: a signed webhook and a log line.

The webhook POSTs the message as JSON with an HMAC-SHA256 signature over the
timestamp and the body, the way Stripe and GitHub sign theirs; a receiver
checks it with :func:`verify_signature` (a few lines, shown in
``docs/automation.md``) and drops an ``Idempotency-Key`` it has seen. A
failed POST (a timeout, a refused connection, a status outside 2xx) raises
:class:`~ticketflow.DeliveryFailed`, so the outbox retries that message with
its backoff; nothing is retried inside the call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from ticketflow.errors import DeliveryFailed
from ticketflow.protocols import OutboxMessage

__all__ = ["LoggingNotifier", "WebhookNotifier", "message_body", "sign", "verify_signature"]

#: Headers of a webhook delivery.
SIGNATURE_HEADER = "X-Ticketflow-Signature"
TIMESTAMP_HEADER = "X-Ticketflow-Timestamp"
KEY_HEADER = "Idempotency-Key"


def message_body(message: OutboxMessage) -> bytes:
    """The JSON a webhook sends: key, ticket_id, kind, payload, created_at (compact, keys sorted)."""
    document = {
        "key": message.key,
        "ticket_id": message.ticket_id,
        "kind": message.kind,
        "payload": message.payload,
        "created_at": message.created_at.isoformat(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def _secret(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body``."""
    digest = hmac.new(_secret(secret), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str | bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> bool:
    """Whether a webhook request is genuine and fresh (for the receiving side).

    Args:
        secret: the shared secret the notifier signs with.
        body: the raw request body, exactly as received.
        timestamp: the ``X-Ticketflow-Timestamp`` header (Unix seconds).
        signature: the ``X-Ticketflow-Signature`` header.
        tolerance: how many seconds old (or early) a request may be.
        now: the current Unix time (default: ``time.time()``).

    A missing (``None``) or malformed header is ``False``, never an exception.
    """
    if not isinstance(timestamp, str) or not isinstance(signature, str) or not signature.isascii():
        return False  # a missing header, or one compare_digest refuses (non-ASCII): not genuine, not a crash
    try:
        sent = float(timestamp)
    except ValueError:
        return False
    if not math.isfinite(sent) or abs((time.time() if now is None else now) - sent) > tolerance:
        return False  # "nan" compares as fresh at any age
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookNotifier:
    """POSTs each message as signed JSON to a URL (``registry.add_notifier(kind, WebhookNotifier(...))``).

    Args:
        url: where to POST (``http://`` or ``https://``).
        secret: the shared HMAC-SHA256 secret (at least 16 bytes).
        timeout: seconds to wait for the connection and the answer.
        headers: extra headers (an ``Authorization``, say).
        clock: Unix time for the timestamp header (tests).

    Raises:
        ValueError: a URL that is not http(s), or a short secret.
        DeliveryFailed: (when called) the receiver did not answer 2xx in time.
    """

    def __init__(
        self,
        url: str,
        *,
        secret: str | bytes,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http:// or https://, got {url!r}")
        if len(_secret(secret)) < 16:
            raise ValueError("webhook secret must be at least 16 bytes")
        self.url = url
        self.timeout = timeout
        self._secret = _secret(secret)
        self._headers = dict(headers or {})
        self._clock = clock

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.url!r}, timeout={self.timeout})"

    def __call__(self, message: OutboxMessage) -> None:
        """POST the message; return on 2xx, raise :class:`~ticketflow.DeliveryFailed` otherwise."""
        import urllib.error  # here, not at import: urllib.request loads the e-mail package
        import urllib.request

        body = message_body(message)
        timestamp = str(int(self._clock()))
        headers = {
            **self._headers,
            "Content-Type": "application/json",
            "User-Agent": "ticketflow-webhook",
            KEY_HEADER: message.key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310 - checked
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) only
                response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read(200).decode(errors="replace")
            raise DeliveryFailed(message.key, self.url, f"HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, timed out
            reason = getattr(exc, "reason", exc)
            raise DeliveryFailed(message.key, self.url, f"{type(exc).__name__}: {reason}") from exc


class LoggingNotifier:
    """Writes each message as one log line (``ticketflow.notify`` logger, INFO): for development and audit.

    Args:
        logger: the logger to write to.
        level: the logging level.
    """

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self.logger = logger or logging.getLogger("ticketflow.notify")
        self.level = level

    def __call__(self, message: OutboxMessage) -> None:
        """Log the message (kind, ticket, key and the JSON body)."""
        payload: Any = message_body(message).decode()
        self.logger.log(self.level, "%s for %s (key %s): %s", message.kind, message.ticket_id, message.key, payload)
