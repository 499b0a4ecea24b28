"""Similar-ticket suggestions: precision@5 before and after feedback, and speed at 100,000 tickets.

Run: .venv/bin/python bench/bench_similar.py [--tickets 100000]  (or `make bench`)

Quality on 200 synthetic tickets in 20 known topics (bench/similar_data.py):
precision@5 is the share of the 5 suggestions that share the query's topic.
"After feedback" gives each query one round of thumbs (up for the same topic,
down for another) and asks again. Speed: index build time and median query
latency with N tickets. No assertion: the table is the result.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _options as options  # bench/_options.py: --help and --quick for every script
from similar_data import tickets

import ticketflow as tf

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def ticket(ticket_id: str, text: str) -> tf.Ticket:
    return tf.Ticket(
        id=ticket_id, lifecycle_id="bench", state="new", version=1, created_at=T0, updated_at=T0, title=text
    )


def precision_at_5(index: tf.SimilarityIndex, labelled: list[tuple[str, str, str]]) -> float:
    topic = {tid: t for tid, t, _ in labelled}
    hits = []
    for tid, t, _ in labelled:
        found = index.similar(tid, k=5)
        hits.append(sum(topic[s.ticket_id] == t for s in found) / 5)
    return statistics.mean(hits)


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument(
        "--tickets",
        type=int,
        default=100_000,
        help="tickets in the index for build time and latency (default: %(default)s)",
    )
    options.add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.tickets = 2_000
    labelled = tickets(200)
    index = tf.SimilarityIndex()
    for tid, _, text in labelled:
        index.add(ticket(tid, text))
    before = precision_at_5(index, labelled)
    topic = {tid: t for tid, t, _ in labelled}
    for tid, t, _ in labelled:
        for suggestion in index.similar(tid, k=5):
            index.feedback(tid, suggestion.ticket_id, helpful=topic[suggestion.ticket_id] == t)
    after = precision_at_5(index, labelled)

    many = tickets(args.tickets, seed=5)
    started = time.perf_counter()
    big = tf.SimilarityIndex()
    for tid, _, text in many:
        big.add(ticket(tid, text))
    build = time.perf_counter() - started
    samples = []
    for tid, _, _ in many[:: max(1, len(many) // 50)][:50]:
        started = time.perf_counter()
        big.similar(tid, k=5)
        samples.append((time.perf_counter() - started) * 1000)
    print("Similar-ticket suggestions (BM25 over title, description, public comments)")
    print(f"{'precision@5, 200 tickets in 20 topics':<48}{before:>10.2f}")
    print(f"{'precision@5 after one round of feedback':<48}{after:>10.2f}")
    print(f"{f'index build, {args.tickets:,} tickets (s)':<48}{build:>10.1f}")
    print(f"{f'query latency, {args.tickets:,} tickets (ms, median of 50)':<48}{statistics.median(samples):>10.1f}")


if __name__ == "__main__":
    main()
