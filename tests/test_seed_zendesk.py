"""The Zendesk-style help center (shared/seeds/002), sentence by sentence, with explicit times.

The help center's SLA counts New York business hours with US holidays;
Friday 2026-07-03 is the observed Independence Day.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import ticketflow as tf

from .conftest import unchanged

NY = ZoneInfo("America/New_York")
CLIENT = tf.Actor("dana@client.example", roles={"requester"})
DORA = tf.Actor("dora", roles={"agent"})
ELI = tf.Actor("eli", roles={"agent"})
SYSTEM = tf.Actor("system", roles={"system"})


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 7, day, hour, minute, tzinfo=NY)


def worked_with(wf: tf.Workflow, agents: list[tf.Actor]) -> None:
    for i, agent in enumerate(agents):
        t = wf.open(CLIENT, title=f"Earlier {i}", fields={"category": "question"}, at=ny(1, 9 + i))
        wf.fire(t.id, "take", agent, at=ny(1, 9 + i, 30))


def test_we_categorize_it_and_routing_follows_the_category_set_after_the_ticket_arrives():
    wf = tf.Workflow(tf.builtin("zendesk"))
    worked_with(wf, [DORA, DORA, ELI])
    t = wf.open(CLIENT, title="New landing page", at=ny(6, 9))  # arrives uncategorized: nobody yet
    assert t.assignee is None
    t = wf.update(t.id, ELI, fields={"category": "work_request"}, at=ny(6, 9, 5))
    assert (t.assignee, wf.history(t.id)[-1].meta["route"]) == ("dora", "continuity")
    question = wf.open(CLIENT, title="Where is my invoice?", at=ny(6, 10))
    assert wf.update(question.id, ELI, fields={"category": "question"}, at=ny(6, 10, 5)).assignee is None


def test_a_later_category_does_not_take_the_ticket_from_its_responding_agent():
    wf = tf.Workflow(tf.builtin("zendesk"))
    worked_with(wf, [DORA, DORA])
    t = wf.open(CLIENT, title="New landing page", at=ny(6, 9))
    wf.comment(t.id, ELI, "On it", at=ny(6, 9, 1))  # Eli responds first and keeps it
    assert wf.update(t.id, ELI, fields={"category": "project_communication"}, at=ny(6, 9, 2)).assignee == "eli"


def test_open_tickets_are_prioritized_by_reviewing_date_time():
    wf = tf.Workflow(tf.builtin("zendesk"))
    opened = [ny(6, 9, 40), ny(6, 9, 10), ny(6, 9, 30), ny(6, 9, 20)]
    ids = [wf.open(CLIENT, title=f"Q{i}", at=when).id for i, when in enumerate(opened)]
    oldest_first = [ids[1], ids[3], ids[2], ids[0]]
    first = wf.find(group="open", order_by="opened_at", limit=3)
    second = wf.find(group="open", order_by="opened_at", limit=3, after=first.next_cursor)
    assert [t.id for t in first.tickets + second.tickets] == oldest_first
    assert second.next_cursor is None
    assert [t.id for t in wf.find(order_by="-opened_at").tickets] == oldest_first[::-1]
    wf.comment(ids[1], CLIENT, "Any news?", at=ny(6, 10))  # reviewed by last activity instead
    assert wf.find(order_by="updated_at").tickets[-1].id == ids[1]
    with pytest.raises(tf.LifecycleError, match="order_by"):
        wf.find(order_by="priority")


def test_zendesk_seed_story_end_to_end():
    """A request over the holiday weekend: received, asked, reminded, answered, solved, closed, followed up."""
    registry = tf.Registry()
    sent: list[tf.OutboxMessage] = []
    for kind in ("request_received", "agent_question", "requester_reminder", "ticket_resolved"):
        registry.add_notifier(kind, sent.append)
    wf = tf.Workflow(tf.builtin("zendesk"), registry=registry)
    worked_with(wf, [DORA, DORA, ELI])
    t = wf.open(CLIENT, title="Logo variants", at=ny(2, 16))  # Thursday afternoon
    assert t.state == "new"
    t = wf.update(t.id, ELI, fields={"category": "project_communication"}, at=ny(2, 16, 10))
    assert t.assignee == "dora"  # the agent the client has mostly worked with
    [first_response] = [c for c in wf.sla(t.id, ny(2, 16, 10)) if c.metric == "first_response"]
    assert first_response.due_at == ny(6, 16)  # 8 business hours from opening: past the holiday and the weekend
    t = wf.fire(t.id, "ask", DORA, comment="Which formats: SVG or PNG?", at=ny(3, 10))  # on the holiday
    assert t.state == "pending"
    wf.run_due(ny(4, 10) - timedelta(seconds=1))
    assert wf.get(t.id).tags == frozenset()
    assert len(wf.run_due(ny(4, 10)).fired) == 1  # Saturday: the 24-hour reminder (wall time)
    t = wf.comment(t.id, CLIENT, "SVG please", at=ny(5, 20))  # Sunday evening: reopened
    assert t.state == "open"
    wf.fire(t.id, "solve", ELI, comment="Attached: logo.svg", at=ny(6, 9))
    assert wf.get(t.id).assignee == "dora"  # the original responding agent keeps it
    with unchanged(wf, t.id), pytest.raises(tf.PermissionDenied):
        wf.fire(t.id, "close", DORA, at=ny(6, 10))  # only the system closes
    wf.run_due(ny(7, 9))
    assert wf.get(t.id).state == "closed"
    with unchanged(wf, t.id), pytest.raises(tf.TicketClosed):
        wf.move_to(t.id, "open", DORA, at=ny(7, 10))
    follow_up = wf.reply(t.id, CLIENT, "And a PDF?", at=ny(7, 11))
    assert wf.links(follow_up.id) == [tf.Link(follow_up.id, "follow_up_of", t.id)]
    wf.deliver(ny(7, 11))
    mine = [m.kind for m in sent if m.ticket_id == t.id]
    assert mine == ["request_received", "agent_question", "requester_reminder", "ticket_resolved"]
