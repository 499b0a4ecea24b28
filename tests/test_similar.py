"""Similar-ticket suggestions: BM25 ranking, feedback, what is indexed."""

import sys
from datetime import UTC, datetime

import pytest

import ticketflow as tf

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from similar_data import tickets

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def ticket(ticket_id: str, title: str, description: str = "") -> tf.Ticket:
    fields = {"description": description} if description else {}
    return tf.Ticket(id=ticket_id, lifecycle_id="x", state="new", version=1, created_at=T0, updated_at=T0,
                     title=title, fields=fields)  # fmt: skip


def test_tokenize_drops_case_punctuation_and_stop_words():
    assert tf.similar.tokenize("The VPN drops -- every hour, on Wi-Fi!") == [
        "vpn",
        "drops",
        "every",
        "hour",
        "wi",
        "fi",
    ]


def test_tickets_of_the_same_topic_rank_first():
    labelled = tickets(200)
    index = tf.SimilarityIndex()
    for ticket_id, _, text in labelled:
        index.add(ticket(ticket_id, text))
    topic = {tid: t for tid, t, _ in labelled}
    precision = sum(
        sum(topic[s.ticket_id] == topic[tid] for s in index.similar(tid, k=5)) / 5 for tid, _, _ in labelled
    ) / len(labelled)
    assert precision > 0.7  # measured 0.83 (bench/bench_similar.py); unrelated ranking would give ~0.05
    assert all(s.ticket_id != "T000000" for s in index.similar("T000000"))


def test_feedback_moves_a_pair_up_or_down():
    index = tf.SimilarityIndex(feedback_weight=0.5)
    index.add(ticket("A", "printer jams on page two"))
    index.add(ticket("B", "printer jams every morning"))
    index.add(ticket("C", "printer offline after update"))
    assert index.similar("A")[0].ticket_id == "B"
    index.feedback("A", "B", helpful=False)
    index.feedback("A", "B", helpful=False)
    index.feedback("A", "C", helpful=True)
    after = index.similar("A")
    assert after[0].ticket_id == "C"
    assert {s.ticket_id: s.feedback for s in after} == {"C": 1, "B": -2}
    assert index.similar("B")[0].ticket_id == "A"  # feedback is per pair


def test_only_public_text_is_indexed_and_reindexing_replaces():
    wf = tf.Workflow(tf.builtin("zendesk"))
    agent = tf.Actor("a", roles={"agent"})
    t = wf.open(tf.Actor("c", roles={"requester"}), title="Logo is blurry")
    wf.comment(t.id, agent, "secret roadmap codename falcon", visibility="internal")
    wf.comment(t.id, agent, "send the vector file please")
    other = wf.open(tf.Actor("d", roles={"requester"}), title="Falcon launch question")
    index = tf.SimilarityIndex.build(wf.repository)
    assert len(index) == 2
    assert [s.ticket_id for s in index.search("vector file")] == [t.id]
    assert [s.ticket_id for s in index.search("falcon")] == [other.id]  # the internal comment is not indexed
    index.add(ticket(t.id, "falcon"))
    assert len(index) == 2
    assert {s.ticket_id for s in index.search("falcon")} == {t.id, other.id}
    index.remove(t.id)
    assert [s.ticket_id for s in index.search("falcon")] == [other.id]
    with pytest.raises(tf.TicketNotFound):  # a LookupError, as the KeyError it was
        index.similar(t.id)


def test_k_must_be_an_integer_and_none_or_fewer_asks_for_no_suggestions():
    wf = tf.Workflow(tf.builtin("zendesk"))
    agent, customer = tf.Actor("a", roles={"agent"}), tf.Actor("c", roles={"requester"})
    ids = [wf.open(customer, title=f"VPN drops every hour ({n})").id for n in range(4)]
    index = tf.SimilarityIndex.build(wf.repository)
    assert len(index.similar(ids[0], 5)) == len(wf.similar(ids[0], 5, actor=customer)) == 3
    for k in (0, -1):  # a slice [:-1] dropped only the last suggestion; a customer's list had no limit
        assert index.similar(ids[0], k) == index.search("VPN", k) == wf.similar(ids[0], k) == []
        assert wf.similar(ids[0], k, actor=customer) == wf.similar(ids[0], k, actor=agent) == []
    for k in ("2", 2.5, None, True):
        with pytest.raises(TypeError, match=r"^k must be an integer"):
            wf.similar(ids[0], k)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^k must be an integer"):
            index.search("VPN", k)  # type: ignore[arg-type]


def test_the_workflow_suggests_and_keeps_feedback_in_the_history(tmp_path):
    path = tmp_path / "s.db"
    wf = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(path))
    customer, agent = tf.Actor("c", roles={"requester"}), tf.Actor("a", roles={"agent"})
    asked = wf.open(customer, title="Invoice shows the wrong VAT rate")
    close = wf.open(customer, title="VAT rate wrong on my invoice")
    far = wf.open(customer, title="Invoice PDF is blank")
    assert [s.ticket_id for s in wf.similar(asked.id, k=2)] == [close.id, far.id]
    for _ in range(4):
        wf.similar_feedback(asked.id, close.id, agent, helpful=False)
    assert wf.similar(asked.id, k=2)[0].ticket_id == far.id
    again = tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository(path))  # after a restart
    assert again.similar(asked.id, k=2)[0].ticket_id == far.id
    with pytest.raises(tf.TicketNotFound):
        wf.similar_feedback(asked.id, "nope", agent, helpful=True)
