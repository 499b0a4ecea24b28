"""Synthetic labelled tickets for the similarity bench and tests: N tickets in 20 known topics."""

from __future__ import annotations

import random

TOPICS = {
    "password": "password reset login locked account sso credentials expired link",
    "invoice": "invoice billing charge refund vat payment receipt card",
    "export": "export csv download report spreadsheet columns timeout",
    "email": "email notification inbox spam delivery bounce smtp",
    "mobile": "mobile app ios android crash install update phone",
    "api": "api token rate limit endpoint webhook integration key",
    "performance": "slow performance latency loading dashboard spinner seconds",
    "permissions": "permission role access admin denied forbidden team",
    "import": "import upload file format parse error rows mapping",
    "calendar": "calendar meeting schedule timezone invite reminder sync",
    "search": "search results filter query index missing relevance",
    "print": "print printer pdf layout margin page paper",
    "vpn": "vpn network connection disconnect tunnel firewall proxy",
    "storage": "storage quota disk space attachment limit full",
    "language": "language translation locale french german spanish text",
    "backup": "backup restore snapshot deleted recover data lost",
    "chat": "chat widget support conversation agent offline message",
    "billing_plan": "plan upgrade downgrade subscription seats pricing tier",
    "integration": "salesforce slack jira integration connector sync fields",
    "security": "security vulnerability audit compliance encryption breach",
}
NOISE = [
    "customer",
    "issue",
    "problem",
    "help",
    "today",
    "thanks",
    "team",
    "still",
    "since",
    "morning",
    "seems",
    "happen",
    "again",
    "users",
    "weird",
    "broken",
    "urgent",
    "hello",
    "anyone",
    "working",
    "error",
    "sometimes",
    "whole",
    "everyone",
]


def tickets(count: int, seed: int = 11) -> list[tuple[str, str, str]]:
    """(ticket id, topic, text) triples.

    Each text mixes 3-5 words of its topic (and some of the next topic's) with 4-8 common words.
    """
    rng = random.Random(seed)
    names = sorted(TOPICS)
    result = []
    for i in range(count):
        topic = names[i % len(names)]
        neighbour = TOPICS[names[(i + 1) % len(names)]].split()  # topics overlap: some words of the next one
        pool = TOPICS[topic].split() + neighbour[:3]
        words = rng.sample(pool, rng.randint(3, 5)) + rng.sample(NOISE, rng.randint(4, 8))
        rng.shuffle(words)
        result.append((f"T{i:06d}", topic, " ".join(words)))
    return result
