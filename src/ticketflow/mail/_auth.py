"""Sender authentication from ``Authentication-Results`` (RFC 8601), read with ``authres``.

Only headers written by the receiving MTA count: the caller names its
``authserv-id`` (``mx.example.com``); a header with another id may have come
with the message from anyone and is ignored.
"""

from __future__ import annotations

import logging

from ticketflow.mail._message import InboundMail

log = logging.getLogger("ticketflow.mail")

__all__ = ["authentication_results"]


def authentication_results(mail: InboundMail, authserv_id: str) -> dict[str, str]:
    """The results (``{"spf": "pass", "dkim": "fail"}``) the MTA named *authserv_id* recorded on *mail*.

    When a method has several results (two DKIM signatures), a ``pass``
    wins. Unparseable headers are ignored.
    """
    import authres

    results: dict[str, str] = {}
    for value in mail.message.get_all("Authentication-Results", []):
        try:
            header = authres.AuthenticationResultsHeader.parse(f"Authentication-Results: {value}")
        except Exception as error:  # noqa: BLE001 - authres raises its own and stdlib errors; a bad header counts as none
            log.debug("unreadable Authentication-Results %r: %s", value, error)
            continue
        if str(header.authserv_id).lower() != authserv_id.lower():
            continue
        for result in header.results:
            method, outcome = str(result.method).lower(), str(result.result).lower()
            if results.get(method) != "pass":
                results[method] = outcome
    return results
