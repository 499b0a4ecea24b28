"""Similar-ticket suggestions: BM25 over title, description and public comments, with feedback.

DevRev's "Turing suggests" shows similar earlier tickets and learns from
thumbs up/down. Here: a small BM25 index (Okapi BM25, k1 = 1.2, b = 0.75) over
each ticket's public text, and feedback that moves a pair up or down for later
suggestions. Internal comments are never indexed, so a suggestion shown to a
customer cannot leak them.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Unpack

import attrs

from ticketflow._brief import brief
from ticketflow.errors import TicketNotFound
from ticketflow.lifecycle import Lifecycle
from ticketflow.model import Actor, Event, Ticket
from ticketflow.protocols import TicketFilters, TicketRepository
from ticketflow.recording import Scope, record_step

__all__ = ["SimilarityIndex", "Suggestion", "Suggestions", "tokenize"]

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "please",
        "so",
        "that",
        "the",
        "their",
        "them",
        "there",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    )
)


def tokenize(text: str) -> list[str]:
    """Lower-case words of two letters or more, without stop words."""
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOP]


def _document(ticket: Ticket, history: Iterable[Event]) -> list[str]:
    parts = [ticket.title, str(ticket.fields.get("description", ""))]
    parts += [e.comment.body for e in history if e.comment is not None and e.comment.visibility == "public"]
    return tokenize(" ".join(parts))


@attrs.frozen
class Suggestion:
    """A similar ticket and why it ranks where it does.

    Attributes:
        ticket_id: the suggested ticket.
        score: BM25 score plus the feedback adjustment.
        feedback: the net thumbs for this pair (up minus down).
    """

    ticket_id: str
    score: float
    feedback: int


def _count(k: object) -> int:
    """How many suggestions *k* asks for: an integer, 0 or less meaning none (a slice would drop from the end)."""
    if not isinstance(k, int) or isinstance(k, bool):
        raise TypeError(f"k must be an integer, got {type(k).__name__} {brief(k)}")
    return max(k, 0)


class SimilarityIndex:
    """An in-memory BM25 index of tickets, with per-pair feedback.

    Args:
        feedback_weight: how much one net thumb moves a pair's score, as a
            fraction of the best BM25 score of that query (so it scales with
            the query).
        max_df: query terms found in more than this share of the tickets are
            skipped: they add almost nothing to BM25 (their IDF is near zero)
            and cost the most to score.
    """

    k1 = 1.2
    b = 0.75

    def __init__(self, feedback_weight: float = 0.25, max_df: float = 0.1) -> None:
        self.feedback_weight = feedback_weight
        self.max_df = max_df
        self._postings: dict[str, dict[str, int]] = defaultdict(dict)
        self._lengths: dict[str, int] = {}
        self._terms: dict[str, Counter[str]] = {}
        self._total = 0
        self._votes: dict[str, Counter[str]] = defaultdict(Counter)

    def __len__(self) -> int:
        return len(self._lengths)

    def add(self, ticket: Ticket, history: Iterable[Event] = ()) -> None:
        """Index (or re-index) a ticket from its title, description and public comments.

        Feedback recorded in the history (by ``Workflow.similar_feedback``)
        is loaded too, so it survives restarts.
        """
        history = list(history)
        self.remove(ticket.id)
        terms = Counter(_document(ticket, history))
        for term, count in terms.items():
            self._postings[term][ticket.id] = count
        self._terms[ticket.id] = terms
        self._lengths[ticket.id] = sum(terms.values())
        self._total += self._lengths[ticket.id]
        self._votes.pop(ticket.id, None)
        for event in history:  # feedback recorded in the history (Workflow.similar_feedback)
            vote = event.meta.get("similar_feedback")
            if isinstance(vote, dict):
                self.feedback(ticket.id, str(vote["suggested"]), helpful=bool(vote["helpful"]))

    def remove(self, ticket_id: str) -> None:
        """Take a ticket out of the index (no-op if absent)."""
        terms = self._terms.pop(ticket_id, None)
        if terms is None:
            return
        for term in terms:
            postings = self._postings[term]
            postings.pop(ticket_id, None)
            if not postings:
                del self._postings[term]
        self._total -= self._lengths.pop(ticket_id)

    def feedback(self, ticket_id: str, suggested_id: str, *, helpful: bool) -> None:
        """Record a thumbs up (``helpful=True``) or down for suggesting *suggested_id* on *ticket_id*."""
        self._votes[ticket_id][suggested_id] += 1 if helpful else -1

    def _scores(self, terms: Counter[str], exclude: str | None) -> dict[str, float]:
        count = len(self._lengths)
        if not count:
            return {}
        average = self._total / count
        limit = max(1.0, self.max_df * count)
        scores: dict[str, float] = defaultdict(float)
        for term in terms:
            postings = self._postings.get(term)
            if not postings or (count > 100 and len(postings) > limit):
                continue
            idf = math.log(1 + (count - len(postings) + 0.5) / (len(postings) + 0.5))
            for doc, tf in postings.items():
                norm = tf + self.k1 * (1 - self.b + self.b * self._lengths[doc] / average)
                scores[doc] += idf * tf * (self.k1 + 1) / norm
        if exclude is not None:
            scores.pop(exclude, None)
        return scores

    def similar(self, ticket_id: str, k: int = 5) -> list[Suggestion]:
        """The *k* tickets most like *ticket_id* (which must be indexed), best first.

        Raises:
            TicketNotFound: *ticket_id* is not in the index.
            TypeError: *k* is not an integer (0 or less: no suggestions).
        """
        k = _count(k)
        terms = self._terms.get(ticket_id)
        if terms is None:
            raise TicketNotFound(ticket_id)
        return self._rank(self._scores(terms, ticket_id), ticket_id, k)

    def search(self, text: str, k: int = 5) -> list[Suggestion]:
        """The *k* tickets most like free *text* (no feedback applies); a TypeError when *k* is no integer."""
        return self._rank(self._scores(Counter(tokenize(text)), None), None, _count(k))

    def _rank(self, scores: dict[str, float], ticket_id: str | None, k: int) -> list[Suggestion]:
        if not scores:
            return []
        top = max(scores.values())
        votes = self._votes.get(ticket_id, Counter()) if ticket_id is not None else Counter()
        for suggested, net in votes.items():
            if suggested in scores:
                scores[suggested] += net * self.feedback_weight * top
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [Suggestion(doc, score, votes.get(doc, 0)) for doc, score in ranked]

    @classmethod
    def build(cls, repository: TicketRepository, **filters: Unpack[TicketFilters]) -> SimilarityIndex:
        """An index of every ticket in *repository* matching *filters*, read a page at a time."""
        from ticketflow.repository._export import iter_tickets

        index = cls()
        for ticket in iter_tickets(repository, **filters):
            index.add(ticket, repository.history(ticket.id))
        return index


class Suggestions:
    """Similar-ticket suggestions among one lifecycle's tickets, with feedback (what ``Workflow.similar`` uses).

    The index is built from the repository on first use and kept; the asked
    ticket is re-indexed each time so new comments count.
    """

    def __init__(self, repository: TicketRepository, lifecycle: Lifecycle) -> None:
        self.repository = repository
        self.lifecycle = lifecycle
        self._index: SimilarityIndex | None = None

    def _built(self) -> SimilarityIndex:
        if self._index is None:
            self._index = SimilarityIndex.build(self.repository, lifecycle_id=self.lifecycle.id)
        return self._index

    def similar(self, ticket: Ticket, k: int, actor: Actor | None) -> list[Suggestion]:
        """Up to *k* earlier tickets like *ticket*; for a customer *actor*, only tickets they may see.

        Raises:
            TicketNotFound: a customer *actor* not related to *ticket*.
        """
        k = _count(k)
        access = self.lifecycle.access
        customer = actor is not None and not access.is_staff(actor)
        if actor is not None:
            access.check_read(ticket, actor)
        index = self._built()
        index.add(ticket, self.repository.history(ticket.id))
        if actor is None or not customer:
            return index.similar(ticket.id, k)
        shown: list[Suggestion] = []
        if not k:
            return shown
        for suggestion in index.similar(ticket.id, len(index)):
            if access.related(self.repository.get(suggestion.ticket_id), actor):
                shown.append(suggestion)
                if len(shown) == k:
                    break
        return shown

    def feedback(
        self, scope: Scope, ticket_id: str, suggested_id: str, actor: Actor, *, helpful: bool, at: datetime
    ) -> Ticket:
        """Record a thumbs up or down for a suggestion in *ticket_id*'s history; later suggestions use it."""
        self.lifecycle.access.check_read(self.repository.get(suggested_id), actor)  # TicketNotFound if none
        meta = {"similar_feedback": {"suggested": suggested_id, "helpful": helpful}}
        ticket = record_step(scope, ticket_id, "update", actor, at=at, meta=meta)
        if self._index is not None:
            self._index.feedback(ticket_id, suggested_id, helpful=helpful)
        return ticket
