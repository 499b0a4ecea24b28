"""The new text of a reply: quoted history, "On ... wrote:" headers and signatures removed.

The work is done by ``mail-parser-reply`` (quote headers of Outlook, Gmail,
Apple Mail and Thunderbird in a dozen languages, signatures, "Sent from my
iPhone"); the full original is kept by the desk for audit.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["strip_reply"]


def _without_trailing_quote(text: str) -> str:
    """*text* without a trailing block of ``>`` lines and the attribution line before it ("... wrote:").

    The parser knows the attribution lines of a dozen languages; this catches
    the others (Spanish "escribió:", Dutch "schreef:"...) by their shape.
    """
    lines = text.rstrip().splitlines()
    end = len(lines)
    while end and (lines[end - 1].lstrip().startswith(">") or not lines[end - 1].strip()):
        end -= 1
    if end == len(lines) or not any(line.lstrip().startswith(">") for line in lines[end:]):
        return text
    if end and lines[end - 1].rstrip().endswith(":"):
        end -= 1
    kept = "\n".join(lines[:end]).strip()
    return kept if kept else text


@lru_cache(maxsize=1)
def _parser() -> Any:
    from mailparser_reply import EmailReplyParser
    from mailparser_reply.constants import MAIL_LANGUAGES

    return EmailReplyParser(languages=[language for language in MAIL_LANGUAGES if language != "david"])


def strip_reply(text: str) -> str:
    """*text* without the quoted message it answers and without its signature.

    When nothing is left (a message that is all quote, or one that starts
    with a header the parser takes for a quote), the text is returned as it
    was, trimmed: a comment is never emptied by stripping.
    """
    message = _parser().read(_without_trailing_quote(text))
    if message.replies:
        body = str(message.replies[0].body).strip()
        if body:
            return body
    return text.strip()
