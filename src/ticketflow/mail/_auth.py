"""Sender authentication from ``Authentication-Results`` (RFC 8601), read with ``authres``.

Only headers written by the receiving MTA count: the caller names its
``authserv-id`` (``mx.example.com``); a header with another id may have come
with the message from anyone and is ignored.

A pass proves the From address only when it is *aligned* with it, as DMARC
(RFC 7489) has it: anyone can sign with their own domain (``dkim=pass
header.d=attacker.example``) or send from their own envelope address
(``spf=pass smtp.mailfrom=attacker.example``) while writing any ``From``.
"""

from __future__ import annotations

import logging
from typing import Any

from ticketflow.mail._message import InboundMail

log = logging.getLogger("ticketflow.mail")

__all__ = ["authentication_results"]

#: The property of each method's result that names the domain it vouches for.
_DOMAIN_OF = {"dkim": ("header", "d"), "spf": ("smtp", "mailfrom"), "dmarc": ("header", "from")}


def _property(result: Any, kind: str, name: str) -> str | None:
    for prop in getattr(result, "properties", ()):
        if str(prop.type).lower() == kind and str(prop.name).lower() == name:
            return str(prop.value)
    return None


def _aligned(domain: str, sender_domain: str) -> bool:
    """Relaxed alignment: *domain* is the From address's domain or a parent domain of it (not a bare TLD)."""
    domain = domain.rsplit("@", 1)[-1].strip().rstrip(".").lower()
    if "." not in domain:
        return False
    return sender_domain == domain or sender_domain.endswith("." + domain)


def authentication_results(mail: InboundMail, authserv_id: str) -> dict[str, str]:
    """The results (``{"spf": "pass", "dkim": "fail"}``) the MTA named *authserv_id* recorded on *mail*.

    When a method has several results (two DKIM signatures), a ``pass``
    wins. Unparseable headers are ignored. A ``dkim``, ``spf`` or ``dmarc``
    pass counts only when aligned with the From address (``mail.sender``):
    DKIM's ``header.d`` and SPF's ``smtp.mailfrom`` domain must be the From
    domain or a parent of it, DMARC's ``header.from`` (when given) the From
    domain. An unaligned pass is reported as ``unaligned``, unless DMARC
    passed for the From domain (then the From is proven and it counts).
    """
    import authres

    sender_domain = mail.sender.rsplit("@", 1)[-1].rstrip(".").lower()
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
            if outcome == "pass" and method in _DOMAIN_OF:
                domain = _property(result, *_DOMAIN_OF[method])
                if method == "dmarc":
                    ok = domain is None or domain.strip().rstrip(".").lower() == sender_domain
                else:
                    ok = domain is not None and _aligned(domain, sender_domain)
                if not ok:
                    outcome = "unaligned"
            if results.get(method) != "pass":
                results[method] = outcome
    if results.get("dmarc") == "pass":  # DMARC proved the From domain: the passes it rests on count
        results = {method: "pass" if outcome == "unaligned" else outcome for method, outcome in results.items()}
    return results
