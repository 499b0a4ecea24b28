"""SLA policies and clocks: the seeds' promises, pauses, properties, config errors, reports."""

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ticketflow as tf
from ticketflow.sla import SlaConfigError, evaluate, evaluate_metric
from ticketflow.testing import SteppableClock

NY = ZoneInfo("America/New_York")
H = timedelta(hours=1)
CUSTOMER = tf.Actor("customer", roles={"requester"})
AGENT = tf.Actor("agent-7", roles={"agent"})


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


def clock_of(clocks: list[tf.SlaClock], metric: str) -> tf.SlaClock:
    (found,) = [c for c in clocks if c.metric == metric]
    return found


# -- the seeds' promises ------------------------------------------------------------


#: Sighten's first-response promise alone (its follow-up clock keeps running after the reply).
SIGHTEN_FIRST_RESPONSE = tf.builtin("sighten").extend(
    {"sla": {"warn_at": [0.5, 0.75], "metrics": [{"id": "first_response", "targets": [{"target": "2h"}]}]}}
)


def sighten_at(start: datetime) -> tuple[tf.Workflow, SteppableClock, tf.Ticket]:
    clock = SteppableClock(start)
    wf = tf.Workflow(SIGHTEN_FIRST_RESPONSE, clock=clock)
    return wf, clock, wf.open(CUSTOMER, title="Proposal PDF is blank")


def test_sighten_ticket_opened_friday_16_is_due_monday_10():
    wf, _, t = sighten_at(ny(2026, 3, 6, 16))
    first = clock_of(wf.sla(t.id), "first_response")
    assert (first.target, first.due_at, first.remaining) == (2 * H, ny(2026, 3, 9, 10), 2 * H)
    assert (first.running, first.paused, first.breached) == (True, False, False)


def test_sighten_with_a_monday_holiday_it_is_due_tuesday_10():
    wf, _, t = sighten_at(ny(2026, 1, 16, 16))  # Monday 19 January 2026 is Martin Luther King Jr. Day
    assert clock_of(wf.sla(t.id), "first_response").due_at == ny(2026, 1, 20, 10)


def test_sighten_warns_at_75_percent_and_breaches_after_the_target():
    wf, clock, t = sighten_at(ny(2026, 3, 6, 16))
    assert clock_of(wf.sla(t.id), "first_response").next_alert == ny(2026, 3, 6, 17)  # 50%
    clock.set(ny(2026, 3, 9, 9, 15))
    first = clock_of(wf.sla(t.id), "first_response")
    assert (first.elapsed, first.warned, first.next_alert) == (75 * timedelta(minutes=1), (0.5,), ny(2026, 3, 9, 9, 30))
    clock.set(ny(2026, 3, 9, 9, 30))
    assert clock_of(wf.sla(t.id), "first_response").warned == (0.5, 0.75)
    clock.set(ny(2026, 3, 9, 10, 5))
    late = clock_of(wf.sla(t.id), "first_response")
    assert late.breached
    assert late.remaining == -5 * timedelta(minutes=1)


def test_sighten_first_public_agent_reply_stops_the_clock_internal_notes_do_not():
    wf, clock, t = sighten_at(ny(2026, 3, 9, 9))
    clock.advance(minutes=30)
    wf.comment(t.id, AGENT, "checking logs", visibility="internal")
    clock.advance(minutes=30)
    wf.comment(t.id, AGENT, "We are on it")
    clock.advance(hours=5)
    first = clock_of(wf.sla(t.id), "first_response")
    assert (first.running, first.elapsed, first.breached) == (False, H, False)
    assert first.cycles[0].stopped_at == ny(2026, 3, 9, 10)


def test_a_breach_is_strictly_after_due_at_never_at_it():
    wf, _, t = sighten_at(ny(2026, 3, 6, 16))
    due, one_us = ny(2026, 3, 9, 10), timedelta(microseconds=1)
    at_due = clock_of(wf.sla(t.id, due), "first_response")
    assert (at_due.due_at, at_due.remaining, at_due.breached) == (due, timedelta(0), False)
    assert at_due.next_alert == due + one_us  # the breach alert is due the first instant after
    past = clock_of(wf.sla(t.id, due + one_us), "first_response")
    assert (past.due_at, past.remaining, past.breached) == (due, -one_us, True)
    wf.run_due(due)
    assert [m.kind for m in wf.repository.pending_messages() if m.kind.startswith("sla.")] == ["sla.warning"] * 2
    wf.run_due(due + one_us)
    kinds = [m.kind for m in wf.repository.pending_messages() if m.kind.startswith("sla.")]
    assert kinds == ["sla.warning", "sla.warning", "sla.breached"]


@pytest.mark.parametrize(("late", "breached"), [(timedelta(0), False), (timedelta(microseconds=1), True)])
def test_a_cycle_stopped_at_due_at_is_met_one_microsecond_later_is_breached(late: timedelta, breached: bool):
    wf, clock, t = sighten_at(ny(2026, 3, 6, 16))
    clock.set(ny(2026, 3, 9, 10) + late)
    wf.comment(t.id, AGENT, "We are on it")
    first = clock_of(wf.sla(t.id, ny(2026, 3, 10, 12)), "first_response")
    assert (first.running, first.breached, first.cycles[0].breached) == (False, breached, breached)
    assert first.elapsed == 2 * H + late


def test_the_workflow_indexes_the_next_alert_for_the_sweeper():
    wf, _, t = sighten_at(ny(2026, 3, 6, 16))
    assert wf.repository.due(ny(2026, 3, 6, 17)) == [(t.id, ny(2026, 3, 6, 17))]
    wf.comment(t.id, AGENT, "Hello")
    assert wf.repository.due(ny(2026, 12, 31, 0)) == []


def test_zendesk_questions_get_one_hour_other_requests_a_business_day():
    clock = SteppableClock(ny(2026, 3, 9, 9))
    wf = tf.Workflow(tf.builtin("zendesk"), clock=clock)
    question = wf.open(CUSTOMER, title="How do I reset my password?", fields={"category": "question"})
    work = wf.open(CUSTOMER, title="New landing page", fields={"category": "work_request"})
    assert clock_of(wf.sla(question.id), "first_response").due_at == ny(2026, 3, 9, 10)
    assert clock_of(wf.sla(work.id), "first_response").due_at == ny(2026, 3, 9, 17)


def test_next_reply_runs_a_cycle_per_customer_reply():
    clock = SteppableClock(ny(2026, 3, 9, 8))
    wf = tf.Workflow(tf.builtin("zendesk"), clock=clock)
    t = wf.open(CUSTOMER, title="Logo", fields={"category": "work_request"})
    assert clock_of(wf.sla(t.id), "next_reply").cycles == ()
    clock.advance(minutes=10)
    wf.fire(t.id, "ask", AGENT, comment="Which format?")
    for wait in (2, 3):
        clock.advance(hours=1)
        wf.comment(t.id, CUSTOMER, "SVG")
        clock.advance(hours=wait)
        wf.fire(t.id, "ask", AGENT, comment="And the size?")
    clock.advance(hours=1)
    wf.comment(t.id, CUSTOMER, "512px")
    clock.advance(minutes=30)
    reply = clock_of(wf.sla(t.id), "next_reply")
    assert [c.elapsed for c in reply.cycles] == [2 * H, 3 * H, timedelta(minutes=30)]
    assert reply.running
    assert reply.elapsed == timedelta(minutes=30)


# -- pause semantics -----------------------------------------------------------------

PAUSING: dict[str, Any] = {
    "id": "pausing",
    "sla": {
        "calendar": "24x7",
        "metrics": [
            {"id": "resolution", "pause": {"states": ["pending", "on_hold"]}, "targets": [{"target": "10h"}]},
            {"id": "resolution_plain", "kind": "resolution", "targets": [{"target": "10h"}]},
            {"id": "agent_work", "run_in": {"states": ["open"]}, "targets": [{"target": "10h"}]},
            {"id": "requester_wait", "targets": [{"target": "10h"}]},
        ],
    },
}


def pausing_workflow() -> tuple[tf.Workflow, SteppableClock]:
    clock = SteppableClock(datetime(2026, 3, 9, 9, tzinfo=UTC))
    lc = tf.builtin("zendesk").extend(PAUSING)
    return tf.Workflow(lc, clock=clock), clock


def test_time_in_paused_states_does_not_count_and_cycles_add_up_exactly():
    wf, clock = pausing_workflow()
    t = wf.open(CUSTOMER, title="x")
    clock.advance(hours=1)
    wf.fire(t.id, "ask", AGENT, comment="?")  # pending: paused
    clock.advance(hours=5)
    wf.comment(t.id, CUSTOMER, "!")  # open: running
    clock.advance(minutes=90)
    wf.fire(t.id, "hold", AGENT, comment="wait")  # on hold: paused
    clock.advance(hours=7)
    wf.comment(t.id, CUSTOMER, "back")  # open again
    clock.advance(minutes=15)
    clocks = wf.sla(t.id)
    assert clock_of(clocks, "resolution").elapsed == H + timedelta(minutes=90) + timedelta(minutes=15)
    assert clock_of(clocks, "resolution_plain").elapsed == timedelta(hours=14, minutes=45)
    assert clock_of(clocks, "agent_work").elapsed == timedelta(hours=1, minutes=45)  # in `open` only, not `new`
    assert clock_of(clocks, "requester_wait").elapsed == clock_of(clocks, "resolution").elapsed  # waiting group
    wf.fire(t.id, "ask", AGENT, comment="?")
    paused = clock_of(wf.sla(t.id), "resolution")
    assert (paused.paused, paused.due_at, paused.next_alert) == (True, None, None)


def test_reaching_a_closed_state_stops_resolution_and_reopening_starts_a_new_cycle():
    wf, clock = pausing_workflow()
    t = wf.open(CUSTOMER, title="x")
    clock.advance(hours=2)
    wf.fire(t.id, "solve", AGENT, comment="done")
    clock.advance(hours=3)
    wf.comment(t.id, CUSTOMER, "not quite")
    clock.advance(hours=1)
    plain = clock_of(wf.sla(t.id), "resolution_plain")
    assert [c.elapsed for c in plain.cycles] == [2 * H, H]


def test_a_stopped_metric_with_several_cycles_reports_its_last_cycle():
    wf, clock = pausing_workflow()
    t = wf.open(CUSTOMER, title="x")
    clock.advance(hours=12)  # past the 10h target
    wf.fire(t.id, "solve", AGENT, comment="done")
    clock.advance(hours=3)
    wf.comment(t.id, CUSTOMER, "not quite")  # reopens: a second cycle
    clock.advance(hours=1)
    wf.fire(t.id, "solve", AGENT, comment="done now")
    clock.advance(hours=2)
    plain = clock_of(wf.sla(t.id), "resolution_plain")
    assert [(c.elapsed, c.breached) for c in plain.cycles] == [(12 * H, True), (H, False)]
    last = plain.cycles[-1]
    assert (plain.running, plain.paused) == (False, False)
    assert (plain.elapsed, plain.breached, plain.due_at, plain.remaining) == (H, False, last.due_at, 9 * H)
    # the first cycle was due 10h after it started; the met one keeps the instant it would have been due at
    assert (plain.cycles[0].due_at, last.due_at) == (plain.cycles[0].started_at + 10 * H, last.stopped_at + 9 * H)
    assert plain.early_by == 9 * H


def test_a_policy_change_is_retroactive():
    wf, clock = pausing_workflow()
    t = wf.open(CUSTOMER, title="x")
    clock.advance(hours=12)
    assert clock_of(wf.sla(t.id), "resolution").breached
    changed = copy.deepcopy(PAUSING)
    changed["sla"]["metrics"][0]["targets"] = [{"target": "24h"}]
    lc = tf.builtin("zendesk").extend(changed)
    policy = tf.policy_for(lc)
    assert policy is not None
    again = evaluate(policy, lc, wf.get(t.id), wf.history(t.id), clock.now())
    assert not clock_of(again, "resolution").breached


# -- properties over random histories ---------------------------------------------------

ACTIONS = ["ask", "hold", "solve", "reply", "note", "public"]
histories = st.lists(st.tuples(st.integers(1, 600), st.sampled_from(ACTIONS)), max_size=15)


def play(steps: list[tuple[int, str]], lc: tf.Lifecycle | None = None) -> tuple[tf.Workflow, tf.Ticket, datetime]:
    clock = SteppableClock(ny(2026, 3, 5, 8, 7))
    wf = tf.Workflow(lc or tf.builtin("zendesk").extend(PAUSING_BUSINESS), clock=clock)
    t = wf.open(CUSTOMER, title="x", fields={"category": "question"})
    for minutes, action in steps:
        clock.advance(minutes=minutes)
        try:
            if action in ("ask", "hold", "solve"):
                wf.fire(t.id, action, AGENT, comment=action)
            elif action == "reply":
                wf.comment(t.id, CUSTOMER, "reply")
            else:
                wf.comment(t.id, AGENT, action, visibility="internal" if action == "note" else "public")
        except tf.TicketflowError:
            pass
    return wf, wf.get(t.id), clock.now()


PAUSING_BUSINESS = copy.deepcopy(PAUSING)
PAUSING_BUSINESS["sla"]["calendar"] = "office"
PAUSING_BUSINESS["sla"]["calendars"] = {
    "office": {"timezone": "America/New_York", "hours": {"mon-fri": ["09:00-12:00", "13:00-17:00"]}}
}
PAUSING_BUSINESS["sla"]["metrics"].append({"id": "first_response", "targets": [{"target": "3h"}]})
PAUSING_BUSINESS["sla"]["metrics"].append({"id": "next_reply", "targets": [{"target": "2h"}]})


@given(histories, st.integers(0, 3000))
def test_elapsed_never_exceeds_wall_time_and_grows_with_now(steps: list[tuple[int, str]], later: int):
    wf, t, now = play(steps)
    history = wf.history(t.id)
    assert wf.sla_policy is not None
    before = evaluate(wf.sla_policy, wf.lifecycle, t, history, now)
    after = evaluate(wf.sla_policy, wf.lifecycle, t, history, now + timedelta(minutes=later))
    for a, b in zip(before, after, strict=True):
        if a.cycles:
            assert a.elapsed <= now - a.cycles[-1].started_at
        assert len(b.cycles) == len(a.cycles)
        for ca, cb in zip(a.cycles, b.cycles, strict=True):
            assert cb.elapsed >= ca.elapsed
            if ca.stopped_at is not None:
                assert cb == ca  # a stopped cycle never changes


@given(histories)
def test_pausing_never_increases_elapsed(steps: list[tuple[int, str]]):
    wf, t, now = play(steps)
    clocks = wf.sla(t.id, now)
    paused, plain = clock_of(clocks, "resolution"), clock_of(clocks, "resolution_plain")
    assert len(paused.cycles) == len(plain.cycles)
    for a, b in zip(paused.cycles, plain.cycles, strict=True):
        assert a.elapsed <= b.elapsed


@given(histories)
def test_due_at_is_exactly_where_remaining_reaches_zero(steps: list[tuple[int, str]]):
    wf, t, now = play(steps)
    assert wf.sla_policy is not None
    history = wf.history(t.id)
    for clock in wf.sla(t.id, now):
        if clock.running and not clock.paused and clock.due_at is not None and not clock.breached:
            at_due = evaluate(wf.sla_policy, wf.lifecycle, t, history, clock.due_at)
            assert clock_of(at_due, clock.metric).remaining == timedelta(0)
            start = clock.cycles[-1].started_at
            calendar = wf.sla_policy.metric(clock.metric).targets[0].calendar
            if not wf.sla_policy.metric(clock.metric).paused_in:
                assert calendar.between(start, clock.due_at) == clock.target


# -- config errors -------------------------------------------------------------------


def with_sla(sla: dict[str, Any]) -> tf.Lifecycle:
    return tf.builtin("zendesk").extend({"id": "zd", "sla": sla})


RESOLUTION = {"id": "resolution", "targets": [{"target": "1h"}]}
TWO_HOURS = {"targets": [{"target": "2h"}]}


@pytest.mark.parametrize(
    ("sla", "path", "problem"),
    [
        (
            {"calendar": "24x7", "metrics": [{"id": "speed", "targets": [{"target": "1h"}]}]},
            "sla.metrics[0].kind",
            "unknown metric 'speed'; use one of first_response, next_reply, periodic_update, resolution, "
            "requester_wait, agent_work",
        ),
        (
            {
                "calendar": "24x7",
                "metrics": [{"id": "resolution", "pause": {"states": ["limbo"]}, "targets": [{"target": "1h"}]}],
            },
            "sla.metrics[0].pause.states[0]",
            "unknown state 'limbo'; known: new, open, pending, on_hold, solved, closed",
        ),
        (
            {
                "calendar": "24x7",
                "metrics": [{"id": "resolution", "pause": {"groups": ["x"]}, "targets": [{"target": "1h"}]}],
            },
            "sla.metrics[0].pause.groups[0]",
            "unknown state group 'x'; known: open, waiting, closed",
        ),
        (
            {"metrics": [{"id": "resolution", "targets": [{"target": "1h"}]}]},
            "sla.metrics[0].targets[0].calendar",
            "no calendar: name one here, set sla.calendar, or give the workflow a calendar",
        ),
        (
            {"calendar": "moon", "metrics": [{"id": "resolution", "targets": [{"target": "1h"}]}]},
            "sla.calendar",
            "unknown calendar 'moon'; known: 24x7",
        ),
        (  # refused even where every target names its own calendar (it was accepted, and no calendar applied)
            {"calendar": "moon", "metrics": [{"id": "resolution", "targets": [{"target": "1h", "calendar": "24x7"}]}]},
            "sla.calendar",
            "unknown calendar 'moon'; known: 24x7",
        ),
        (
            {
                "calendar": "24x7",
                "metrics": [
                    {
                        "id": "first_response",
                        "targets": [
                            {"when": {"category": ["question", "work_request"]}, "target": "1h"},
                            {"when": {"category": "question"}, "target": "2h"},
                        ],
                    }
                ],
            },
            "sla.metrics[0].targets[1].when",
            "overlaps targets[0]: a ticket could match both; make the selectors disjoint",
        ),
        (
            {
                "calendar": "24x7",
                "metrics": [
                    {
                        "id": "first_response",
                        "targets": [
                            {"target": "1h"},
                            {"when": {"category": "question"}, "target": "2h"},
                        ],
                    }
                ],
            },
            "sla.metrics[0].targets[0].when",
            "a catch-all target must come last; later targets never apply",
        ),
        (
            {"calendar": "24x7", "metrics": [{"id": "resolution", "targets": [{"target": "soon"}]}]},
            "sla.metrics[0].targets[0].target",
            "cannot read duration 'soon'; write e.g. '24h', '5d', '1d12h', '2bd' or 'PT24H'",
        ),
        (
            {"calendar": "24x7", "warn_at": [1.5], "metrics": [{"id": "resolution", "targets": [{"target": "1h"}]}]},
            "sla.warn_at[0]",
            "a warning threshold is a fraction between 0 and 1, got 1.5",
        ),
        (
            {
                "calendar": "24x7",
                "metrics": [{"id": "resolution", "targets": [{"when": {"colour": "red"}, "target": "1h"}]}],
            },
            "sla.metrics[0].targets[0].when.colour",
            "unknown field 'colour'",
        ),
        (
            {
                "calendar": "24x7",
                "metrics": [{"id": "resolution", "start": {"triggers": ["teleport"]}, "targets": [{"target": "1h"}]}],
            },
            "sla.metrics[0].start.triggers[0]",
            "unknown trigger 'teleport'",
        ),
        (
            {"calendar": "24x7", "metrics": [{"id": "resolution", "targets": []}]},
            "sla.metrics[0].targets",
            "a metric needs at least one target",
        ),
        (
            {
                "calendar": "24x7",
                "metrics": [
                    {"id": "resolution", "targets": [{"target": "1h"}]},
                    {"id": "resolution", "targets": [{"target": "1h"}]},
                ],
            },
            "sla.metrics[1].id",
            "duplicate metric id 'resolution'",
        ),
        (
            {
                "calendar": "24x7",
                "calendars": {"bad": {"timezone": "Mars/Base", "hours": {"mon": "09:00-17:00"}}},
                "metrics": [],
            },
            "sla.calendars.bad",
            "timezone: unknown zone 'Mars/Base'; use an IANA name like 'Europe/Paris'",
        ),
        (
            {
                "calendar": "24x7",
                "metrics": [{**RESOLUTION, "pause": {"states": ["pending"]}, "run_in": {"states": ["open"]}}],
            },
            "sla.metrics[0].run_in",
            "give either pause or run_in, not both",
        ),
        (
            {"calendar": "24x7", "metrics": [{**RESOLUTION, "run_in": {"states": ["nowhere"]}}]},
            "sla.metrics[0].run_in.states[0]",
            "unknown state 'nowhere'; known: new, open, pending, on_hold, solved, closed",
        ),
        (
            {"calendar": "24x7", "metrics": [{**RESOLUTION, "stop": {"comment": {"by": ["agent", "wizard"]}}}]},
            "sla.metrics[0].stop.comment.by[1]",
            "unknown role 'wizard'",
        ),
        (
            {"calendar": "24x7", "metrics": [{**RESOLUTION, "reset": {"triggers": ["solve", "teleport"]}}]},
            "sla.metrics[0].reset.triggers[1]",
            "unknown trigger 'teleport'",
        ),
        (
            {"calendar": "24x7", "metrics": [{**RESOLUTION, "calendar_by": {"field": "category", "resolver": "x"}}]},
            "sla.metrics[0].calendar_by",
            "give either field (with map) or resolver",
        ),
        (
            {"calendar": "24x7", "metrics": [{**RESOLUTION, "calendar_by": {"field": "colour"}}]},
            "sla.metrics[0].calendar_by.field",
            "unknown field 'colour'",
        ),
        (
            {
                "calendar": "24x7",
                "metrics": [{**RESOLUTION, "calendar_by": {"field": "category", "map": {"question": "moon"}}}],
            },
            "sla.metrics[0].calendar_by.map.question",
            "unknown calendar 'moon'; known: 24x7",
        ),
        (  # without a policy calendar the workflow's is chosen under the name "default"
            {"metrics": [{**RESOLUTION, "calendar_by": {"field": "category", "map": {"question": "moon"}}}]},
            "sla.metrics[0].calendar_by.map.question",
            "unknown calendar 'moon'; known: 24x7, default",
        ),
        (
            {
                "calendar": "24x7",
                "calendar_by": {"field": "category", "map": {"riddle": "24x7"}},
                "metrics": [RESOLUTION],
            },
            "sla.calendar_by.map.riddle",
            "'riddle' is not one of question, work_request, project_communication",
        ),
        (
            {
                "calendar": "24x7",
                "metrics": [{"id": "resolution", "targets": [{"when": {"category": "riddle"}, "target": "1h"}]}],
            },
            "sla.metrics[0].targets[0].when.category",
            "'riddle' is not one of question, work_request, project_communication",
        ),
        (
            {
                "calendar": "24x7",
                "metrics": [
                    {
                        "id": "resolution",
                        "targets": [{"when": {"category": ["question", "riddle"]}, "target": "1h"}, {"target": "2h"}],
                    }
                ],
            },
            "sla.metrics[0].targets[0].when.category",
            "'riddle' is not one of question, work_request, project_communication",
        ),
        (
            {"calendar": "24x7", "metrics": [{**RESOLUTION, "warn_at": [0.5, 1.0]}]},
            "sla.metrics[0].warn_at[1]",
            "a warning threshold is a fraction between 0 and 1, got 1.0",
        ),
        (
            {"calendar": "24x7", "warn_at": [0.0], "metrics": [RESOLUTION]},
            "sla.warn_at[0]",
            "a warning threshold is a fraction between 0 and 1, got 0.0",
        ),
        (
            {
                "calendars": {
                    "berlin": {"timezone": "Europe/Berlin", "hours": {"mon-fri": "09:00-17:00"}},
                    "athens": {"timezone": "Europe/Athens", "hours": {"mon-fri": "09:00-17:00"}},
                },
                "metrics": [{"id": "resolution", "targets": [{"target": "1h", "calendar": "paris"}]}],
            },
            "sla.metrics[0].targets[0].calendar",
            "unknown calendar 'paris'; known: 24x7, athens, berlin",
        ),
        (
            {"calendar": "24x7", "metrics": [{**RESOLUTION, "start": {"states": ["open", "nowhere"]}}]},
            "sla.metrics[0].start.states[1]",
            "unknown state 'nowhere'; known: new, open, pending, on_hold, solved, closed",
        ),
    ],
)
def test_sla_config_errors_name_their_path(sla: dict[str, Any], path: str, problem: str):
    with pytest.raises(SlaConfigError) as caught:
        tf.Workflow(with_sla(sla))
    assert (caught.value.source, caught.value.path, caught.value.problem) == ("<extend>", path, problem)
    assert isinstance(caught.value, tf.InvalidLifecycle)


def test_the_shape_of_the_sla_section_is_checked_on_load():
    with pytest.raises(tf.InvalidLifecycle) as caught:
        with_sla({"metrics": [{"id": "resolution", "targets": [{"target": "1h"}], "pause": {"statez": []}}]})
    assert caught.value.path == "sla.metrics[0].pause.statez"


def test_the_workflow_calendar_is_used_when_the_policy_names_none():
    office = tf.BusinessCalendar("America/New_York", {"mon-fri": ["09:00-17:00"]})
    lc = with_sla({"metrics": [{"id": "first_response", "targets": [{"target": "2h"}]}]})
    clock = SteppableClock(ny(2026, 3, 6, 16))
    wf = tf.Workflow(lc, calendar=office, clock=clock)
    t = wf.open(CUSTOMER, title="x")
    assert clock_of(wf.sla(t.id), "first_response").due_at == ny(2026, 3, 9, 10)


# -- reports ----------------------------------------------------------------------------


def test_attainment_report_counts_met_and_breached_per_metric_and_target():
    clock = SteppableClock(ny(2026, 3, 9, 9))
    wf = tf.Workflow(tf.builtin("zendesk"), clock=clock)
    answers = [20, 40, 55, 70, 200]  # minutes to the first reply, questions (target 1 h)
    for i, minutes in enumerate(answers):
        t = wf.open(CUSTOMER, title=f"q{i}", fields={"category": "question"}, at=ny(2026, 3, 9, 9))
        wf.fire(
            t.id,
            "solve",
            tf.Actor(f"agent-{i % 2}", roles={"agent"}),
            comment="answer",
            at=ny(2026, 3, 9, 9) + timedelta(minutes=minutes),
        )
    wf.open(CUSTOMER, title="work", fields={"category": "work_request"}, at=ny(2026, 3, 9, 9))
    report = wf.sla_report(ny(2026, 3, 10, 12), group_by=("assignee", "category"))
    (question,) = [m for m in report.for_metric("first_response") if m.target == H]
    assert (question.finished, question.met, question.breached, question.running) == (5, 3, 2, 0)
    assert question.share_met == pytest.approx(0.6)
    assert question.p50 == timedelta(minutes=55)
    assert question.line("answered within") == "answered within [category=question] within 1:00:00: 60% (3 of 5)"
    (work,) = [m for m in report.for_metric("first_response") if m.target == 8 * H]
    assert (work.finished, work.breached) == (0, 1)  # 11 business hours without a reply
    assert report.tickets == 6
    assert report.breaches_by["category"] == {"question": 2, "work_request": 1}


def test_a_report_grouped_by_a_string_or_an_unknown_name_is_refused_not_grouped_by_letters():
    wf = tf.Workflow(tf.builtin("zendesk"))
    wf.open(CUSTOMER, title="q", fields={"category": "question"}, at=ny(2026, 3, 9, 9))
    with pytest.raises(TypeError, match="group_by must be a collection of names, got the string 'assignee'"):
        wf.sla_report(ny(2026, 3, 10, 12), group_by="assignee")  # grouped by 'a', 's', 'i'... before
    with pytest.raises(tf.LifecycleError, match="cannot group breaches by 'colour'; use one of assignee, requester"):
        wf.sla_report(ny(2026, 3, 10, 12), group_by=("assignee", "colour"))
    assert set(wf.sla_report(ny(2026, 3, 10, 12), group_by=("requester",)).breaches_by) == {"requester"}


def test_a_report_needs_a_policy():
    wf = tf.Workflow(tf.builtin("clickup"))
    with pytest.raises(tf.LifecycleError, match="no \\[sla\\] section"):
        wf.sla_report()
    assert wf.sla(wf.open(CUSTOMER, title="x").id) == []


# -- a calendar per ticket by relation (organisation, group, region) ---------------------


def regional(**sla: Any) -> tf.Lifecycle:
    import runpy
    import tomllib

    from .conftest import EXAMPLES

    doc = tomllib.loads(runpy.run_path(str(EXAMPLES / "regional_sla.py"))["LIFECYCLE"])
    doc["sla"].update(sla)
    return tf.load_lifecycle(doc)


BERLIN, SYDNEY = ZoneInfo("Europe/Berlin"), ZoneInfo("Australia/Sydney")
FRIDAY_15_UTC = datetime(2026, 3, 6, 15, tzinfo=UTC)


def test_the_target_counts_in_the_calendar_of_the_tickets_organisation():
    wf = tf.Workflow(regional(), clock=SteppableClock(FRIDAY_15_UTC))
    due = {}
    for org in ("acme", "globex", "wombat", "initech"):
        ticket = wf.open(AGENT, title="x", requester=CUSTOMER.id, fields={"organisation": org})
        first = clock_of(wf.sla(ticket.id), "first_response")
        due[org] = (first.due_at, first.cycles[-1].calendar)
    assert due["acme"] == (datetime(2026, 3, 9, 10, tzinfo=BERLIN), "berlin")
    assert due["globex"] == (ny(2026, 3, 6, 12), "new_york")
    assert due["wombat"] == (datetime(2026, 3, 9, 11, tzinfo=SYDNEY), "sydney")
    assert due["initech"] == (ny(2026, 3, 6, 12), "new_york")  # not mapped: the policy's calendar


def test_a_change_of_organisation_re_targets_only_the_running_clocks():
    clock = SteppableClock(FRIDAY_15_UTC)
    wf = tf.Workflow(regional(), clock=clock)
    ticket = wf.open(AGENT, title="x", requester=CUSTOMER.id, fields={"organisation": "acme"})
    clock.set(datetime(2026, 3, 9, 8, 30, tzinfo=UTC))  # Mon 09:30 Berlin
    wf.comment(ticket.id, AGENT, "On it.")
    clock.set(datetime(2026, 3, 9, 10, tzinfo=UTC))
    wf.update(ticket.id, AGENT, fields={"organisation": "globex"})
    clocks = wf.sla(ticket.id)
    first, resolution = clock_of(clocks, "first_response"), clock_of(clocks, "resolution")
    # Answered in Berlin's hours: Fri 16-17 and Mon 09:00-09:30, whatever the organisation is now.
    assert (first.elapsed, first.cycles[-1].calendar, first.breached) == (
        timedelta(hours=1, minutes=30),
        "berlin",
        False,
    )
    # Still running: counted in New York's hours now, Fri 10:00-17:00 (Monday 06:00 New York is closed).
    assert (resolution.elapsed, resolution.cycles[-1].calendar) == (7 * H, "new_york")
    assert resolution.due_at == ny(2026, 3, 10, 10)


def test_a_registered_resolver_chooses_the_calendar():
    registry = tf.Registry()
    regions = {"acme": "sydney"}
    registry.add_calendar_resolver("region_of", lambda fields: regions.get(fields.get("organisation", "")))
    lifecycle = regional(calendar_by={"resolver": "region_of"})
    wf = tf.Workflow(lifecycle, clock=SteppableClock(FRIDAY_15_UTC), registry=registry)
    acme = wf.open(AGENT, title="x", requester=CUSTOMER.id, fields={"organisation": "acme"})
    other = wf.open(AGENT, title="x", requester=CUSTOMER.id, fields={"organisation": "globex"})
    assert clock_of(wf.sla(acme.id), "first_response").cycles[-1].calendar == "sydney"
    assert clock_of(wf.sla(other.id), "first_response").cycles[-1].calendar == "new_york"
    regions["acme"] = "mars"
    with pytest.raises(tf.CalendarError) as caught:
        wf.sla(acme.id)
    assert str(caught.value) == "calendar resolver 'region_of' answered 'mars'; known: 24x7, berlin, new_york, sydney"
    with pytest.raises(SlaConfigError, match=r"sla\.calendar_by\.resolver: no calendar resolver 'region_of'"):
        tf.Workflow(lifecycle)


@pytest.mark.parametrize(
    ("calendar_by", "path", "message"),
    [
        ({"field": "region"}, r"sla\.calendar_by\.field", "unknown field 'region'"),
        (
            {"field": "organisation", "map": {"acme": "paris"}},
            r"sla\.calendar_by\.map\.acme",
            "unknown calendar 'paris'",
        ),
        ({"field": "organisation", "resolver": "x"}, r"sla\.calendar_by", "give either field"),
    ],
)
def test_bad_calendar_choices_are_located_config_errors(calendar_by: dict[str, Any], path: str, message: str):
    with pytest.raises(SlaConfigError, match=f"{path}: {message}"):
        tf.policy_for(regional(calendar_by=calendar_by))


def test_timed_rules_count_in_the_calendar_the_policy_chooses_for_the_ticket():
    import runpy
    import tomllib

    from .conftest import EXAMPLES

    doc = tomllib.loads(runpy.run_path(str(EXAMPLES / "regional_sla.py"))["LIFECYCLE"])
    doc["transitions"][0]["roles"] = ["agent", "system"]
    doc["timers"] = [{"id": "auto_solve", "state": "open", "after": "2h", "clock": "business", "fire": "solve"}]
    clock = SteppableClock(FRIDAY_15_UTC)
    wf = tf.Workflow(tf.load_lifecycle(doc), clock=clock)
    acme = wf.open(AGENT, title="x", requester=CUSTOMER.id, fields={"organisation": "acme"})
    globex = wf.open(AGENT, title="x", requester=CUSTOMER.id, fields={"organisation": "globex"})
    assert wf.timer_calendar_for(acme).timezone == "Europe/Berlin"  # type: ignore[union-attr]
    wf.run_due(datetime(2026, 3, 6, 18, tzinfo=UTC))  # Fri 13:00 New York, 19:00 Berlin
    assert (wf.get(acme.id).state, wf.get(globex.id).state) == ("open", "solved")
    wf.run_due(datetime(2026, 3, 9, 9, tzinfo=UTC))  # Mon 10:00 Berlin: 2 Berlin business hours
    assert wf.get(acme.id).state == "solved"


# -- mutation survivors (scripts/mutate.py): each pins a rule no other test decided ------------


def test_a_stop_by_role_counts_the_roles_that_act_as_it():
    lc = with_sla(
        {
            "calendar": "24x7",
            "metrics": [
                {
                    "id": "answered",
                    "kind": "first_response",
                    "stop": {"comment": {"by": ["agent"], "visibility": "public"}},
                    "targets": [{"target": "2h"}],
                }
            ],
        }
    )
    clock = SteppableClock(datetime(2026, 3, 9, 9, tzinfo=UTC))
    wf = tf.Workflow(lc, clock=clock)
    t = wf.open(CUSTOMER, title="x")
    clock.advance(minutes=30)
    wf.comment(t.id, CUSTOMER, "anyone?")  # not a role that stops it
    wf.comment(t.id, AGENT, "asking the team", visibility="internal")  # not the visibility that stops it
    clock.advance(minutes=30)
    wf.comment(t.id, tf.Actor("boss", roles={"admin"}), "On it")  # admin acts as agent
    answered = clock_of(wf.sla(t.id), "answered")
    assert (answered.running, answered.elapsed) == (False, H)


def test_the_report_names_a_target_for_several_values_by_all_of_them():
    lc = with_sla(
        {
            "calendar": "24x7",
            "metrics": [
                {
                    "id": "first_response",
                    "targets": [
                        {"when": {"category": ["work_request", "question"]}, "target": "1h"},
                        {"target": "8h"},
                    ],
                }
            ],
        }
    )
    wf = tf.Workflow(lc, clock=SteppableClock(datetime(2026, 3, 9, 9, tzinfo=UTC)))
    wf.open(CUSTOMER, title="x", fields={"category": "question"})
    (line,) = [m for m in wf.sla_report().for_metric("first_response") if m.target == H]
    assert line.selector == "category=question|work_request"


def test_evaluate_metric_refuses_a_naive_now_by_name():
    wf, _, t = sighten_at(ny(2026, 3, 6, 16))
    assert wf.sla_policy is not None
    metric = wf.sla_policy.metric("first_response")
    with pytest.raises(tf.NaiveDatetime) as caught:
        evaluate_metric(metric, wf.lifecycle, wf.get(t.id), wf.history(t.id), datetime(2026, 3, 9, 10))
    assert caught.value.name == "now"
    clock = evaluate_metric(metric, wf.lifecycle, wf.get(t.id), wf.history(t.id), ny(2026, 3, 9, 9, 30))
    assert (clock.elapsed, clock.warned) == (90 * timedelta(minutes=1), (0.5, 0.75))


@pytest.mark.parametrize(("minutes", "warned"), [(30, ()), (70, (0.5,)), (100, (0.5, 0.75))])
def test_a_stopped_clock_keeps_the_warnings_its_last_cycle_crossed(minutes: int, warned: tuple[float, ...]):
    wf, clock, t = sighten_at(ny(2026, 3, 9, 9))
    clock.advance(minutes=minutes)  # of the 2h target, warnings at 50% and 75%
    wf.comment(t.id, AGENT, "Here you go")
    first = clock_of(wf.sla(t.id, ny(2026, 3, 10, 12)), "first_response")
    assert (first.running, first.breached, first.warned) == (False, False, warned)


# -- breach semantics: breached once the due instant has passed, open hours or not ---------------
# "A clock due at 17:00": at 17:00:00 exactly it is not breached (due means "by then"); from
# 17:00:00.000001 on it is, also all evening after the office closed at 17:00.


def test_a_clock_due_at_closing_time_is_breached_right_after_it_not_next_morning():
    wf, _, t = sighten_at(ny(2026, 3, 9, 15))  # 2 business hours: due at 17:00, when support closes
    due, one_us = ny(2026, 3, 9, 17), timedelta(microseconds=1)
    at_due = clock_of(wf.sla(t.id, due), "first_response")
    assert (at_due.due_at, at_due.breached, at_due.next_alert) == (due, False, due + one_us)
    evening = clock_of(wf.sla(t.id, ny(2026, 3, 9, 20)), "first_response")
    assert (evening.due_at, evening.breached, evening.remaining) == (due, True, timedelta(0))
    # the alert is written the first instant after the due instant, and the sweeper is woken for it
    wf.run_due(due)
    assert "sla.breached" not in [m.kind for m in wf.repository.pending_messages()]
    assert wf.repository.due(due + one_us) == [(t.id, due + one_us)]
    wf.run_due(due + one_us)
    (alert,) = [m for m in wf.repository.pending_messages() if m.kind == "sla.breached"]
    assert alert.created_at == due + one_us
    assert wf.repository.due(ny(2026, 3, 20)) == []  # nothing more is due for this clock


@pytest.mark.parametrize(
    ("reply", "late", "early_by"),
    [((16, 55), False, timedelta(minutes=5)), ((17, 0), False, timedelta(0)), ((18, 0), True, None)],
)
def test_a_reply_after_the_due_instant_is_late_and_a_met_clock_keeps_its_due_at(
    reply: tuple[int, int], late: bool, early_by: timedelta | None
):
    wf, clock, t = sighten_at(ny(2026, 3, 9, 15))
    clock.set(ny(2026, 3, 9, *reply))
    wf.comment(t.id, AGENT, "We are on it")
    first = clock_of(wf.sla(t.id, ny(2026, 3, 10, 12)), "first_response")
    assert (first.running, first.due_at, first.breached, first.early_by) == (False, ny(2026, 3, 9, 17), late, early_by)
    assert first.cycles[0].breached is late
    (entry,) = wf.sla_report(ny(2026, 3, 10, 12)).for_metric("first_response")
    assert (entry.met, entry.breached) == (0 if late else 1, 1 if late else 0)  # the report agrees


# -- business days (`bd`) and the `d` that business time refuses --------------------------------

BERLIN = ZoneInfo("Europe/Berlin")
BERLIN_HOURS = {"timezone": "Europe/Berlin", "hours": {"mon-fri": ["09:00-17:00"]}}


def sla_lifecycle(target: str) -> dict[str, Any]:
    return {
        "id": "bd",
        "initial": "open",
        "states": {"open": {}, "done": {"terminal": True}},
        "transitions": [{"trigger": "finish", "source": "open", "dest": "done"}],
        "sla": {
            "calendar": "office",
            "calendars": {"office": BERLIN_HOURS},
            "metrics": [{"id": "resolution", "kind": "resolution", "targets": [{"target": target}]}],
        },
    }


@pytest.mark.parametrize(
    ("target", "opened", "due"),
    [
        ("3bd", datetime(2026, 3, 23, 10, tzinfo=BERLIN), datetime(2026, 3, 26, 10, tzinfo=BERLIN)),
        ("1bd", datetime(2026, 3, 27, 16, tzinfo=BERLIN), datetime(2026, 3, 30, 16, tzinfo=BERLIN)),  # over DST
        ("2 business days", datetime(2026, 10, 23, 9, tzinfo=BERLIN), datetime(2026, 10, 27, 9, tzinfo=BERLIN)),
    ],
)
def test_business_day_targets_are_due_the_same_local_time_n_business_days_later(
    target: str, opened: datetime, due: datetime
):
    lifecycle = tf.load_lifecycle(sla_lifecycle(target))
    wf = tf.Workflow(lifecycle, clock=SteppableClock(opened))
    t = wf.open(CUSTOMER, title="x")
    clock = clock_of(wf.sla(t.id), "resolution")
    calendar = wf.sla_policy.metrics[0].targets[0].calendar  # type: ignore[union-attr]
    assert clock.due_at == due == calendar.add_days(opened, int(target[0]))
    assert clock_of(wf.sla(t.id, due), "resolution").breached is False
    assert clock_of(wf.sla(t.id, due + timedelta(microseconds=1)), "resolution").breached is True


@pytest.mark.parametrize("target", ["3d", "1w", "P3D", "2 days"])
def test_days_in_an_sla_target_are_refused_with_a_hint_not_read_as_24_business_hours(target: str):
    with pytest.raises(tf.InvalidLifecycle) as refused:  # when the policy is built (Workflow, or the loader)
        tf.Workflow(tf.load_lifecycle(sla_lifecycle(target)))
    assert refused.value.path == "sla.metrics[0].targets[0].target"
    assert "'3bd'" in refused.value.problem


def test_days_in_a_business_time_timer_are_refused_with_a_hint():
    document = sla_lifecycle("8h")
    document["calendar"] = BERLIN_HOURS
    document["timers"] = [{"id": "r", "state": "open", "after": "3d", "clock": "business", "add_tags": ["late"]}]
    with pytest.raises(tf.InvalidLifecycle) as refused:
        tf.load_lifecycle(document)
    assert (refused.value.path, "'3bd'" in refused.value.problem) == ("timers[0].after", True)
    document["timers"][0]["after"] = "3bd"
    assert tf.load_lifecycle(document).timers[0].business_days == 3


# -- extend(): one calendar for timers and the SLA, or only the SLA's --------------------------

BERLIN_OFFICE = {"timezone": "Europe/Berlin", "hours": {"mon-fri": ["09:00-17:00"]}, "holidays": {"country": "DE"}}


@pytest.mark.parametrize(
    "changes",
    [{"calendar": BERLIN_OFFICE}, {"sla": {"calendars": {"help_center": BERLIN_OFFICE}}}],
    ids=["one-calendar", "only-the-sla-calendar"],
)
def test_extending_zendesk_with_a_berlin_calendar_moves_the_slas_due_instants(changes: dict[str, Any]):
    lifecycle = tf.builtin("zendesk").extend(changes)
    wf = tf.Workflow(lifecycle)
    opened = datetime(2026, 3, 2, 8, tzinfo=UTC)  # Monday 09:00 in Berlin, 03:00 in New York
    t = wf.open(CUSTOMER, title="x", fields={"category": "question"}, at=opened)
    first = clock_of(wf.sla(t.id, opened), "first_response")
    assert first.due_at == datetime(2026, 3, 2, 10, tzinfo=BERLIN)  # was 10:00 in New York (15:00 UTC)
    assert wf.timer_calendar is not None
    assert str(wf.timer_calendar.tz) == "Europe/Berlin"  # business-time timers count in the same calendar
    assert wf.sla_policy is not None
    assert {str(m.targets[0].calendar.tz) for m in wf.sla_policy.metrics} == {"Europe/Berlin"}


def test_an_sla_extension_without_metrics_changes_the_base_section_one_with_metrics_replaces_it():
    tighter = tf.Workflow(tf.builtin("zendesk").extend({"sla": {"warn_at": [0.5]}})).sla_policy
    assert tighter is not None
    assert [(m.id, m.warn_at) for m in tighter.metrics] == [("first_response", (0.5,)), ("next_reply", (0.5,))]
    assert str(tighter.metrics[0].targets[0].calendar.tz) == "America/New_York"  # untouched
    metrics = [{"id": "first_response", "targets": [{"target": "4h"}]}]
    whole = {"calendar": "c", "calendars": {"c": BERLIN_OFFICE}, "metrics": metrics}
    replaced = tf.Workflow(tf.builtin("zendesk").extend({"sla": whole})).sla_policy
    assert replaced is not None
    assert [(m.id, m.targets[0].target) for m in replaced.metrics] == [("first_response", timedelta(hours=4))]


# -- SLA history stays true: a met or breached cycle keeps its verdict ------------------------

PRIORITY_SLA = """
[sla]
calendar = "office"
warn_at = [0.5]

[sla.calendars.office]
timezone = "UTC"
hours = { mon-fri = ["09:00-17:00"] }

[[sla.metrics]]
id = "first_response"
targets = [{ when = { priority = "urgent" }, target = "1h" }, { target = "8h" }]
"""
AGENT = tf.Actor("sam", roles={"agent"})


def priority_workflow() -> tuple[tf.Workflow, SteppableClock]:
    from .conftest import EXAMPLES

    lifecycle = tf.loads_lifecycle((EXAMPLES / "custom_lifecycle.toml").read_text() + PRIORITY_SLA)
    clock = SteppableClock(datetime(2026, 1, 5, 9, tzinfo=UTC))  # a Monday
    return tf.Workflow(lifecycle, clock=clock), clock


def test_raising_the_priority_after_a_met_first_response_leaves_it_met_in_the_clock_and_the_report():
    wf, clock = priority_workflow()
    t = wf.open(AGENT, title="Printer jam", fields={"priority": "low"}, requester="dana")
    clock.advance(hours=3)
    wf.comment(t.id, AGENT, "On my way")  # answered after 3h: met against the 8h target
    clock.advance(hours=1)
    wf.update(t.id, AGENT, fields={"priority": "urgent"})  # urgent tickets get 1h, from now on
    clock.advance(hours=1)
    (first,) = wf.sla(t.id)
    assert (first.running, first.breached, first.target, first.elapsed) == (
        False,
        False,
        timedelta(hours=8),
        timedelta(hours=3),
    )
    assert first.early_by == timedelta(hours=5)
    assert [(c.target, c.breached) for c in first.cycles] == [(timedelta(hours=8), False)]
    report = wf.sla_report()
    (line,) = report.for_metric("first_response")
    assert (line.target, line.met, line.breached, line.share_met) == (timedelta(hours=8), 1, 0, 1.0)


def test_a_field_change_re_targets_the_running_cycle():
    wf, clock = priority_workflow()
    t = wf.open(AGENT, title="Server down", fields={"priority": "low"}, requester="dana")
    clock.advance(minutes=30)
    wf.update(t.id, AGENT, fields={"priority": "urgent"})
    (first,) = wf.sla(t.id)
    assert (first.running, first.target, first.due_at) == (
        True,
        timedelta(hours=1),
        datetime(2026, 1, 5, 10, tzinfo=UTC),
    )
    clock.advance(hours=1)
    wf.comment(t.id, AGENT, "Rebooted")  # 1h30 after opening: breached against the 1h it ran under
    wf.update(t.id, AGENT, fields={"priority": "low"})
    (first,) = wf.sla(t.id)
    assert (first.breached, first.target) == (True, timedelta(hours=1))
    (line,) = wf.sla_report().for_metric("first_response")
    assert (line.target, line.met, line.breached) == (timedelta(hours=1), 0, 1)


def _with_sla(**sla: Any) -> tf.Lifecycle:
    from ticketflow.testing import CONTRACT_LIFECYCLE

    metrics = [{"id": "first_response", "targets": [{"target": "2h"}]}]
    return tf.load_lifecycle({**CONTRACT_LIFECYCLE, "sla": {"metrics": metrics, **sla}}, source="sla.toml")


def test_the_sla_policy_is_built_when_the_lifecycle_loads_and_a_workflow_only_binds_it(
    monkeypatch: pytest.MonkeyPatch,
):
    from ticketflow.sla import _policy

    lc = _with_sla()
    loaded = lc.sections["sla"]
    assert loaded.default_uses == ("sla.metrics[0].targets[0].calendar",)  # counts in the workflow's calendar

    def built_again(*_args: Any) -> None:
        raise AssertionError("the policy was built again after load")

    monkeypatch.setattr(_policy._PolicyBuilder, "build", built_again)
    nine_to_five = tf.BusinessCalendar("UTC", {"mon-fri": ["09:00-17:00"]})
    wf = tf.Workflow(lc, calendar=nine_to_five)
    assert wf.sla_policy is not None
    assert wf.sla_policy.calendar is nine_to_five
    assert [t.calendar for m in wf.sla_policy.metrics for t in m.targets] == [nine_to_five]
    other = tf.BusinessCalendar("UTC", {"mon-sun": ["08:00-20:00"]})
    assert tf.policy_for(lc, other).metrics[0].targets[0].calendar is other  # type: ignore[union-attr]
    with pytest.raises(SlaConfigError, match=r"sla\.metrics\[0\]\.targets\[0\]\.calendar: no calendar"):
        tf.Workflow(lc)  # nothing to count in: refused with the path, as before


def test_a_bad_sla_section_is_refused_by_load_lifecycle_not_later():
    from ticketflow.testing import CONTRACT_LIFECYCLE

    metrics = [{"id": "first_response", "pause": {"states": ["nope"]}, "targets": [{"target": "2h"}]}]
    with pytest.raises(SlaConfigError, match=r"sla\.metrics\[0\]\.pause\.states\[0\]: unknown state 'nope'"):
        tf.load_lifecycle({**CONTRACT_LIFECYCLE, "sla": {"metrics": metrics}})


def test_conditions_match_an_event_as_the_evaluation_counts_it():
    from ticketflow.sla._clock import _Vectors
    from ticketflow.sla._policy import Conditions

    lc = tf.builtin("zendesk")
    clock = SteppableClock(datetime(2026, 3, 9, 9, tzinfo=UTC))
    wf = tf.Workflow(lc, clock=clock)
    admin = tf.Actor("boss", roles={"admin"})
    t = wf.open(CUSTOMER, title="x")
    steps = [
        lambda: wf.comment(t.id, AGENT, "looking", visibility="internal"),
        lambda: wf.comment(t.id, CUSTOMER, "anyone?"),
        lambda: wf.fire(t.id, "take", AGENT),
        lambda: wf.comment(t.id, admin, "on it"),
        lambda: wf.fire(t.id, "ask", AGENT, comment="which browser?"),
        lambda: wf.comment(t.id, CUSTOMER, "firefox"),
        lambda: wf.fire(t.id, "hold", AGENT, comment="waiting on the vendor", visibility="internal"),
        lambda: wf.fire(t.id, "solve", AGENT, comment="fixed"),
    ]
    for step in steps:
        clock.advance(minutes=10)
        step()
    history = wf.history(t.id)
    every = [
        Conditions(open=True),
        Conditions(states=frozenset({"open", "solved"})),
        Conditions(states=frozenset({"pending"}), triggers=frozenset({"take"})),
        Conditions(triggers=frozenset({"hold", "solve"})),
        Conditions(comment=True),
        Conditions(comment=True, visibility="public"),
        Conditions(comment=True, visibility="internal"),
        Conditions(comment=True, comment_by=frozenset({"agent"})),
        Conditions(comment=True, comment_by=frozenset({"requester", "admin"}), visibility="public"),
        Conditions(comment_by=frozenset({"agent"})),  # roles without comment: no comment counts
        Conditions(),
    ]
    vectors = _Vectors(lc, history)
    for conditions in every:
        expected = vectors.of(conditions)
        assert [conditions.matches(e) for e in history] == expected, conditions
        assert any(expected) or conditions in (Conditions(), Conditions(comment_by=frozenset({"agent"})))
    # what each one picks, spelled out for the ones whose rule is easiest to get wrong
    assert [conditions.matches(e) for e in history][:0] == []
    opened, *_ = history
    assert Conditions(open=True).matches(opened)
    assert not Conditions(open=True).matches(history[1])
    public_by_agents = Conditions(comment=True, comment_by=frozenset({"agent"}), visibility="public")
    assert [e.seq for e in history if public_by_agents.matches(e)] == [
        e.seq
        for e in history
        if e.comment is not None and e.comment.visibility == "public" and "agent" in e.actor.roles
    ]
    assert not public_by_agents.matches(history[1])  # the agent's internal note
    assert not public_by_agents.matches(history[2])  # the customer's public comment


def test_an_attainment_line_spells_out_selector_version_target_and_share():
    from ticketflow.sla._report import MetricAttainment, _selector

    def line(**kwargs: Any) -> str:
        base = {"metric": "first_response", "target": H, "finished": 4, "met": 3, "breached": 1, "running": 0}
        base.update(share_met=0.75, p50=None, p90=None)
        base.update(kwargs)
        return MetricAttainment(**base).line()

    assert line() == "first_response within 1:00:00: 75% (3 of 4)"
    assert line(selector="category=question") == "first_response [category=question] within 1:00:00: 75% (3 of 4)"
    assert line(selector="otherwise", version=2) == "first_response [otherwise] (v2) within 1:00:00: 75% (3 of 4)"
    assert line(version=3) == "first_response (v3) within 1:00:00: 75% (3 of 4)"
    assert line(target=None, met=0, breached=0, share_met=None) == "first_response: n/a (0 of 0)"
    assert _selector({}) == "otherwise"
    assert _selector({"category": "question", "priority": ["urgent", "high"]}) == (
        "category=question, priority=high|urgent"
    )


def test_evaluate_metric_counts_an_event_at_now_and_reads_the_tickets_fields():
    clock = SteppableClock(ny(2026, 3, 9, 9))
    wf = tf.Workflow(tf.builtin("zendesk"), clock=clock)
    assert wf.sla_policy is not None
    metric = wf.sla_policy.metric("first_response")
    question = wf.open(CUSTOMER, title="q", fields={"category": "question"})
    work = wf.open(CUSTOMER, title="w", fields={"category": "work_request"})
    clock.advance(minutes=20)
    wf.comment(question.id, AGENT, "answer")
    now = clock.now()
    answered = evaluate_metric(metric, wf.lifecycle, wf.get(question.id), wf.history(question.id), now)
    assert (answered.running, answered.elapsed, answered.target) == (False, 20 * timedelta(minutes=1), H)
    waiting = evaluate_metric(metric, wf.lifecycle, wf.get(work.id), wf.history(work.id), now)
    assert (waiting.running, waiting.target) == (True, 8 * H)


@pytest.mark.parametrize(
    ("category", "steps", "target"),
    [
        # changes before the stop at its instant count: the last one decides
        ("work_request", [("update", "question"), ("update", "work_request"), ("reply", None)], 8 * H),
        ("work_request", [("update", "work_request"), ("update", "question"), ("reply", None)], H),
        # a change after the stop at the same instant does not
        ("work_request", [("update", "question"), ("reply", None), ("update", "work_request")], H),
        ("question", [("reply", None), ("update", "work_request")], H),
        # the stopping step's own change counts, after the changes before it
        ("work_request", [("solve", "question")], H),
        ("work_request", [("update", "question"), ("update", "work_request"), ("solve", "question")], H),
        # a cleared field no longer chooses
        ("question", [("update", None), ("reply", None)], 8 * H),
    ],
)
def test_a_stopped_cycle_keeps_the_target_of_the_fields_right_after_its_stop(
    category: str, steps: list[tuple[str, str | None]], target: timedelta
):
    wf = tf.Workflow(tf.builtin("zendesk"))
    t = wf.open(CUSTOMER, title="x", fields={"category": category}, at=ny(2026, 3, 9, 9))
    at = ny(2026, 3, 9, 9, 20)
    for action, value in steps:
        if action == "update":
            wf.update(t.id, AGENT, fields={"category": value}, at=at)
        elif action == "reply":
            wf.comment(t.id, AGENT, "answer", at=at)
        else:
            wf.fire(t.id, action, AGENT, comment="answer", fields={"category": value}, at=at)
    first = clock_of(wf.sla(t.id, now=ny(2026, 3, 10, 12)), "first_response")
    assert not first.running
    assert first.cycles[0].target == target
    assert first.cycles[0].stopped_at == at


def test_report_lines_follow_the_policy_and_name_every_selector_of_a_shared_target():
    lc = with_sla(
        {
            "calendar": "24x7",
            "metrics": [
                {
                    "id": "resolution",
                    "targets": [
                        {"when": {"category": "question"}, "target": "8h"},
                        {"when": {"category": "project_communication"}, "target": "4h"},
                        {"when": {"category": "work_request"}, "target": "4h"},
                    ],
                },
                {"id": "first_response", "targets": [{"target": "2h"}]},
            ],
        }
    )
    wf = tf.Workflow(lc)
    at = datetime(2026, 3, 9, 9, tzinfo=UTC)
    for category in ("question", "project_communication", "work_request"):
        wf.open(CUSTOMER, title=category, fields={"category": category}, at=at)
    report = wf.sla_report(at + 30 * H)
    lines = [(m.metric, m.target, m.selector) for m in report.metrics]
    assert lines == [
        ("resolution", 8 * H, "category=question"),
        ("resolution", 4 * H, "category=project_communication; category=work_request"),
        ("first_response", 2 * H, ""),
    ]


@pytest.mark.parametrize(
    ("minutes", "p50", "p90"),
    [
        ([20, 40], 20, 40),
        ([20, 40, 55], 40, 55),
        ([20, 40, 55, 70, 200], 55, 200),
        ([35], 35, 35),
        ([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 50], 15, 19),  # the 90th of eleven is the tenth, not the last
    ],
)
def test_report_percentiles_pick_the_nearest_rank(minutes: list[int], p50: int, p90: int):
    from ticketflow.sla._report import attainment

    wf = tf.Workflow(tf.builtin("zendesk"))
    start = ny(2026, 3, 9, 9)
    for i, minute in enumerate(minutes):
        t = wf.open(CUSTOMER, title=f"q{i}", fields={"category": "question"}, at=start)
        wf.comment(t.id, AGENT, "answer", at=start + minute * timedelta(minutes=1))
    (line,) = [m for m in wf.sla_report(ny(2026, 3, 10, 12)).for_metric("first_response") if m.target == H]
    assert (line.p50, line.p90) == (p50 * timedelta(minutes=1), p90 * timedelta(minutes=1))
    assert wf.sla_policy is not None
    items = [(t, wf.history(t.id)) for t in wf.find().tickets]
    direct = attainment(wf.sla_policy, wf.lifecycle, items, ny(2026, 3, 10, 12))
    assert {m.version for m in direct.metrics} == {None}  # not split by version unless asked


# -- what each metric kind measures by default -----------------------------------------------------------------------

KINDS = ("first_response", "next_reply", "periodic_update", "resolution", "requester_wait", "agent_work")


def _with_default_kinds(builtin: str, kinds: tuple[str, ...]) -> tf.Lifecycle:
    """The built-in with one metric of each kind in *kinds*, on its defaults (100h, counted round the clock)."""
    return tf.builtin(builtin).extend(
        {
            "id": "kinds",
            "sla": {"calendar": "24x7", "metrics": [{"id": k, "targets": [{"target": "100h"}]} for k in kinds]},
        }
    )


def test_each_metric_kind_runs_as_documented_by_default():
    """docs/lifecycle-format.md's defaults, on Sighten (it has `in_progress` and `waiting` groups), hour by hour."""
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    lc = _with_default_kinds("sighten", KINDS)
    clock = SteppableClock(start)
    wf = tf.Workflow(lc, clock=clock)
    t = wf.open(CUSTOMER, title="Proposal PDF is blank")  # awaiting_support (group open)
    clock.set(start + 1 * H)
    wf.fire(t.id, "take", AGENT, assignee=AGENT.id, fields={"request_type": "technical_support"})  # in_progress
    clock.set(start + 2 * H)
    wf.comment(t.id, AGENT, "Checking the template.", visibility="internal")  # an internal note answers no one
    clock.set(start + 3 * H)
    wf.comment(t.id, CUSTOMER, "Any news?")
    clock.set(start + 4 * H)
    wf.comment(t.id, AGENT, "Looking at it now.")
    clock.set(start + 6 * H)
    wf.fire(t.id, "ask_customer", AGENT, comment="Which PDF?")  # awaiting_customer (group waiting)
    clock.set(start + 9 * H)
    wf.comment(t.id, CUSTOMER, "This one.")  # customer_replied: back to in_progress
    clock.set(start + 10 * H)
    wf.comment(t.id, AGENT, "Fixed, can you check?")
    clock.set(start + 12 * H)
    wf.fire(t.id, "customer_confirmed", AGENT, comment="Confirmed by phone.")  # resolved
    clocks = {c.metric: c for c in wf.sla(t.id, start + 20 * H)}

    def hours(metric: str) -> list[tuple[float, float]]:
        return [((c.started_at - start) / H, (c.stopped_at - start) / H) for c in clocks[metric].cycles]  # type: ignore[operator]

    # opening to the first public agent comment (the internal note at 2 does not count)
    assert (hours("first_response"), clocks["first_response"].elapsed) == ([(0, 4)], 4 * H)
    # each public requester comment to the next public agent comment
    assert (hours("next_reply"), clocks["next_reply"].elapsed) == ([(3, 4), (9, 10)], H)
    # restarts at every public agent comment (the step's comment at 6 too); paused while awaiting the customer
    assert hours("periodic_update") == [(0, 4), (4, 6), (6, 10), (10, 12)]
    assert [c.elapsed for c in clocks["periodic_update"].cycles] == [4 * H, 2 * H, H, 2 * H]
    # opening to a closed state, paused in the waiting group for requester_wait only
    assert (hours("resolution"), clocks["resolution"].elapsed) == ([(0, 12)], 12 * H)
    assert (hours("requester_wait"), clocks["requester_wait"].elapsed) == ([(0, 12)], 9 * H)
    # runs only in the in_progress group: 1-6 and 9-12
    assert (hours("agent_work"), clocks["agent_work"].elapsed) == ([(0, 12)], 8 * H)
    assert not any(c.running for c in clocks.values())


def test_custom_conditions_start_stop_reset_and_run_in_as_written():
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    metrics = [
        {
            "id": "handling",
            "kind": "resolution",
            "start": {"triggers": ["take"]},
            "stop": {"groups": ["closed"]},
            "reset": {"triggers": ["hold"]},
            "pause": {"states": ["pending"]},
            "targets": [{"target": "10h"}],
        },
        {
            "id": "waiting",
            "kind": "resolution",
            "start": {"states": ["pending"]},
            "stop": {"triggers": ["requester_replied"]},
            "targets": [{"target": "10h"}],
        },
        {"id": "open_time", "kind": "resolution", "run_in": {"groups": ["open"]}, "targets": [{"target": "10h"}]},
        {
            "id": "from_opening",
            "kind": "resolution",
            "start": {"open": True},
            "stop": {"triggers": ["solve"]},
            "targets": [{"target": "10h"}],
        },
        {
            "id": "any_public_comment",
            "kind": "first_response",
            "stop": {"comment": {"visibility": "public"}},  # by anyone
            "targets": [{"target": "10h"}],
        },
    ]
    clock = SteppableClock(start)
    wf = tf.Workflow(with_sla({"calendar": "24x7", "metrics": metrics}), clock=clock)
    t = wf.open(CUSTOMER, title="x")  # new: opening starts none of the first two
    assert [c.cycles for c in wf.sla(t.id)][:2] == [(), ()]
    clock.set(start + 1 * H)
    wf.fire(t.id, "take", AGENT)  # open
    clock.set(start + 2 * H)
    wf.fire(t.id, "ask", AGENT, comment="Which browser?")  # pending
    clock.set(start + 4 * H)
    wf.comment(t.id, CUSTOMER, "Firefox.")  # requester_replied: open
    clock.set(start + 5 * H)
    wf.fire(t.id, "hold", AGENT, comment="Waiting on the vendor.")  # on_hold: resets `handling` to zero
    clock.set(start + 7 * H)
    wf.fire(t.id, "solve", AGENT, comment="Fixed.")  # solved (closed group)

    def cycles(metric: str) -> list[tuple[float, float, float]]:
        return [
            ((c.started_at - start) / H, (c.stopped_at - start) / H, c.elapsed / H)  # type: ignore[operator]
            for c in clock_of(wf.sla(t.id, start + 10 * H), metric).cycles
        ]

    assert cycles("handling") == [(5, 7, 2)]  # restarted at the hold, stopped entering the closed group
    assert cycles("waiting") == [(2, 4, 2)]  # from entering pending to the requester's reply
    assert cycles("open_time") == [(0, 7, 3)]  # counted only in the open group: 0-2 and 4-5
    assert cycles("from_opening") == [(0, 7, 7)]  # opening only: reopening is not written, so only one cycle
    assert cycles("any_public_comment") == [(0, 2, 2)]  # the question at `ask` is the first public comment


def test_warning_thresholds_are_crossed_in_ascending_order_whatever_order_they_are_written_in():
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    clock = SteppableClock(start)
    lc = with_sla(
        {"calendar": "24x7", "warn_at": [0.9, 0.5], "metrics": [{**RESOLUTION, "targets": [{"target": "10h"}]}]}
    )
    wf = tf.Workflow(lc, clock=clock)
    t = wf.open(CUSTOMER, title="x")
    assert clock_of(wf.sla(t.id), "resolution").next_alert == start + 5 * H
    six = clock_of(wf.sla(t.id, start + 6 * H), "resolution")
    assert (six.warned, six.next_alert) == ((0.5,), start + 9 * H)
    assert clock_of(wf.sla(t.id, start + 9 * H + H / 2), "resolution").warned == (0.5, 0.9)


# -- which calendar a target counts in -----------------------------------------------------------------------------


def first_response_of(wf: tf.Workflow, organisation: str) -> tuple[datetime | None, str | None]:
    ticket = wf.open(AGENT, title="x", requester=CUSTOMER.id, fields={"organisation": organisation})
    first = clock_of(wf.sla(ticket.id), "first_response")
    return first.due_at, first.cycles[-1].calendar


#: Friday 15:00 UTC plus two business hours: in Berlin, New York and Sydney.
DUE_BERLIN = datetime(2026, 3, 9, 10, tzinfo=BERLIN)
DUE_NEW_YORK = ny(2026, 3, 6, 12)
DUE_SYDNEY = datetime(2026, 3, 9, 11, tzinfo=SYDNEY)


def test_a_target_naming_its_own_calendar_keeps_it_under_the_policys_calendar_by():
    metrics = [
        {
            "id": "first_response",
            "targets": [{"when": {"organisation": "acme"}, "target": "2h", "calendar": "sydney"}, {"target": "2h"}],
        }
    ]
    wf = tf.Workflow(regional(metrics=metrics), clock=SteppableClock(FRIDAY_15_UTC))
    assert first_response_of(wf, "acme") == (DUE_SYDNEY, None)  # its own calendar, not Berlin by the map
    assert first_response_of(wf, "globex") == (DUE_NEW_YORK, "new_york")  # the catch-all still chooses


def test_a_metric_naming_its_calendar_is_not_chosen_for_by_the_policy_but_by_its_own_calendar_by():
    own = [{"id": "first_response", "calendar": "sydney", "targets": [{"target": "2h"}]}]
    wf = tf.Workflow(regional(metrics=own), clock=SteppableClock(FRIDAY_15_UTC))
    assert first_response_of(wf, "acme") == (DUE_SYDNEY, None)
    chosen = [
        {
            "id": "first_response",
            "calendar": "sydney",
            "calendar_by": {"field": "organisation", "map": {"acme": "berlin"}},
            "targets": [{"target": "2h"}],
        }
    ]
    wf = tf.Workflow(regional(metrics=chosen), clock=SteppableClock(FRIDAY_15_UTC))
    assert first_response_of(wf, "acme") == (DUE_BERLIN, "berlin")
    assert first_response_of(wf, "globex") == (DUE_SYDNEY, "sydney")  # unmapped: the metric's calendar


def test_a_calendar_by_without_a_map_gives_every_ticket_the_default():
    wf = tf.Workflow(regional(calendar_by={"field": "organisation"}), clock=SteppableClock(FRIDAY_15_UTC))
    assert first_response_of(wf, "acme") == (DUE_NEW_YORK, "new_york")


def test_a_metric_choosing_its_calendar_with_no_calendar_to_default_to_is_refused_where_it_chooses():
    lc = with_sla({"metrics": [{**RESOLUTION, "calendar_by": {"field": "category", "map": {}}}]})
    with pytest.raises(SlaConfigError) as caught:
        tf.Workflow(lc)  # no sla.calendar and no workflow calendar
    assert (caught.value.path, caught.value.problem) == (
        "sla.metrics[0].calendar_by",
        "no calendar: name one here, set sla.calendar, or give the workflow a calendar",
    )


def test_a_policy_bound_without_resolvers_gives_a_resolver_chosen_target_the_default_calendar():
    policy = tf.policy_for(regional(calendar_by={"resolver": "region_of"}))
    assert policy is not None
    assert policy.calendar_for({"organisation": "acme"}).timezone == "America/New_York"  # type: ignore[union-attr]
    with pytest.raises(KeyError, match="speed"):
        policy.metric("speed")


def test_a_report_counts_running_cycles_lists_metrics_that_never_started_and_groups_breaches_by_person_and_field():
    lc = with_sla(
        {
            "calendar": "24x7",
            "metrics": [{"id": "first_response", "targets": [{"target": "1h"}]}, {"id": "next_reply", **TWO_HOURS}],
        }
    )
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    wf = tf.Workflow(lc, clock=SteppableClock(start))
    for agent, category in (("agent-1", "question"), ("agent-2", "question"), ("agent-2", "work_request")):
        wf.open(AGENT, title="x", requester=CUSTOMER.id, assignee=agent, fields={"category": category})
    (early,) = wf.sla_report(start + H / 2).for_metric("first_response")
    assert (early.running, early.breached, early.finished) == (3, 0, 0)
    report = wf.sla_report(start + 2 * H, group_by=("assignee", "requester", "category"))
    (first,) = report.for_metric("first_response")
    assert (first.running, first.breached, first.finished) == (0, 3, 0)  # breached while still open
    (never,) = report.for_metric("next_reply")  # no customer reply yet: listed, with nothing counted
    assert (never.target, never.finished, never.running, never.p50, never.share_met) == (2 * H, 0, 0, None, None)
    assert report.breaches_by == {
        "assignee": {"agent-1": 1, "agent-2": 2},
        "requester": {"customer": 3},
        "category": {"question": 2, "work_request": 1},
    }


def test_a_ticket_no_target_selects_has_a_clock_that_counts_but_is_never_due():
    only_questions = {"id": "first_response", "targets": [{"when": {"category": "question"}, "target": "1h"}]}
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    wf = tf.Workflow(with_sla({"calendar": "24x7", "metrics": [only_questions]}), clock=SteppableClock(start))
    t = wf.open(CUSTOMER, title="x", fields={"category": "work_request"})
    first = clock_of(wf.sla(t.id, start + 3 * H), "first_response")
    assert (first.target, first.due_at, first.remaining, first.breached, first.next_alert) == (
        None,
        None,
        None,
        False,
        None,
    )
    assert (first.running, first.elapsed, first.cycles[-1].target) == (True, 3 * H, None)


def test_the_default_conditions_count_only_the_team_and_the_customers_public_words():
    """Defaults on Sighten: an automation's public comment answers no one, a customer's internal one asks nothing.

    The team is the staff roles but ``system``; ``next_reply`` starts on a
    customer's *public* comment; ``periodic_update`` restarts on the team's
    public comments only, so a closed ticket's note or a customer's comment
    after closing starts nothing.
    """
    import attrs

    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    lc = _with_default_kinds("sighten", KINDS)
    clock = SteppableClock(start)
    wf = tf.Workflow(lc, clock=clock)
    t = wf.open(CUSTOMER, title="Proposal PDF is blank")
    opening = wf.history(t.id)
    clock.set(start + 1 * H)
    wf.comment(t.id, AGENT, "We received your request.")
    answered = wf.history(t.id)[-1]
    clock.set(start + 3 * H)
    wf.comment(t.id, CUSTOMER, "Any news?")
    asked = wf.history(t.id)[-1]
    policy, ticket, now = wf.sla_policy, wf.get(t.id), start + 4 * H
    assert policy is not None

    def clocks(*events: tf.Event) -> dict[str, Any]:
        return {c.metric: c for c in evaluate(policy, lc, ticket, [*opening, *events], now)}

    # the same public words from an automation (a "system" actor, as a sync writes them) answer no one
    automated = attrs.evolve(answered, actor=tf.Actor("bot", roles={"system"}))
    assert not clocks(answered)["first_response"].running
    assert clocks(automated)["first_response"].running
    assert [c.started_at for c in clocks(automated)["periodic_update"].cycles] == [start]
    # a customer's comment the team keeps internal (a forwarded mail) asks for no reply
    internal = attrs.evolve(asked, comment=attrs.evolve(asked.comment, visibility="internal"))
    assert clocks(answered, asked)["next_reply"].running
    assert not clocks(answered, internal)["next_reply"].cycles


def test_a_closed_state_that_is_not_final_stops_the_clocks_and_work_restarts_on_entering_a_working_state():
    """Defaults on Interfacing, whose ``resolved`` is closed but not terminal (``reopen`` leaves it for work)."""
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    lc = _with_default_kinds("interfacing", ("resolution", "agent_work"))
    clock = SteppableClock(start)
    wf = tf.Workflow(lc, clock=clock)
    fields = {"type": "bug_report", "severity": "low", "product_component": "api", "description": "500 on /v2"}
    t = wf.open(AGENT, title="API errors", fields=fields, requester=CUSTOMER.id)
    clock.set(start + 1 * H)
    wf.fire(t.id, "assign", AGENT, assignee=AGENT.id)
    clock.set(start + 2 * H)
    wf.fire(t.id, "start", AGENT)  # in_progress: the working group
    clock.set(start + 4 * H)
    wf.fire(t.id, "resolve", AGENT, comment="Deployed the fix.")  # resolved: closed, not terminal
    clock.set(start + 7 * H)
    wf.fire(t.id, "reopen", AGENT)  # back to work
    clock.set(start + 8 * H)
    clocks = {c.metric: c for c in wf.sla(t.id, start + 8 * H)}

    def hours(metric: str) -> list[tuple[float, float | None]]:
        return [
            ((c.started_at - start) / H, None if c.stopped_at is None else (c.stopped_at - start) / H)
            for c in clocks[metric].cycles
        ]

    assert hours("resolution") == [(0, 4), (7, None)]  # stopped by the closed state, started again by the reopening
    assert hours("agent_work") == [(0, 4), (7, None)]  # the reopening enters a working state: a new cycle
    assert clocks["agent_work"].cycles[0].elapsed == 2 * H  # it ran in in_progress only (2-4)


T0_UTC = datetime(2026, 3, 2, 14, tzinfo=UTC)  # a Monday: 15:00 in Berlin, 09:00 in New York


def _calendared(**sla: Any) -> tf.Lifecycle:
    """A small lifecycle whose SLA section is *sla* (with two named calendars)."""
    return tf.load_lifecycle(
        {
            "id": "calendared",
            "initial": "new",
            "states": {"new": {}, "done": {"terminal": True}},
            "fields": {
                "org": {"type": "string"},
                "tier": {"type": "choice", "choices": ["gold", "basic"]},
                "labels": {"type": "list"},
            },
            "transitions": [{"trigger": "finish", "source": "new", "dest": "done", "roles": ["agent"]}],
            "sla": {
                "calendars": {
                    "berlin": {"timezone": "Europe/Berlin", "hours": {"mon-fri": ["09:00-17:00"]}},
                    "ny": {"timezone": "America/New_York", "hours": {"mon-fri": ["09:00-17:00"]}},
                },
                **sla,
            },
        },
        source="calendared.toml",
    )


def test_the_policy_chooses_each_tickets_calendar_by_its_field_and_names_its_own_kind_and_targets():
    lc = _calendared(
        calendar="berlin",
        calendar_by={"field": "org", "map": {"globex": "ny"}},
        metrics=[
            {
                "id": "answer",
                "kind": "first_response",
                "targets": [{"when": {"tier": "gold"}, "target": "1h"}, {"target": "8h"}],
                "calendar_by": {"field": "labels"},
            }
        ],
    )
    wf = tf.Workflow(lc)
    globex = wf.open(AGENT, title="a", fields={"org": "globex", "tier": "gold", "labels": ["x"]}, at=T0_UTC)
    other = wf.open(AGENT, title="b", fields={"org": "initech"}, at=T0_UTC)
    # the policy's own choice (the timed rules' calendar) follows the field
    assert wf.timer_calendar_for(globex).tz == ZoneInfo("America/New_York")
    assert wf.timer_calendar_for(other).tz == ZoneInfo("Europe/Berlin")
    # a list-valued field chooses nothing (a list is no key of the map): the default, not an error
    (clock,) = wf.sla(globex.id, T0_UTC + H)
    assert clock.cycles[0].calendar == "berlin"
    assert (clock.metric, clock.kind) == ("answer", "first_response")  # the metric's id and what it measures
    report = wf.sla_report(T0_UTC + H)
    assert [(line.target, line.selector) for line in report.metrics] == [(H, "tier=gold"), (8 * H, "otherwise")]


def test_a_resolver_no_one_registered_is_named_with_the_lifecycle_file_it_comes_from():
    lc = _calendared(
        calendar="berlin",
        metrics=[
            {"id": "answer", "kind": "first_response", "targets": [{"target": "8h"}], "calendar_by": {"resolver": "x"}}
        ],
    )
    with pytest.raises(SlaConfigError) as refused:
        tf.Workflow(lc)
    assert str(refused.value).startswith("calendared.toml")
    assert "register it with registry.add_calendar_resolver('x', fn)" in str(refused.value)


def _answered(opened: datetime, answered: datetime | None, now: datetime) -> Any:
    """The first_response clock (target 1h, warned at half, Berlin 9-17) of a ticket answered at *answered*."""
    lc = _calendared(
        calendar="berlin",
        metrics=[{"id": "answer", "kind": "first_response", "warn_at": [0.5], "targets": [{"target": "1h"}]}],
    )
    wf = tf.Workflow(lc)
    ticket = wf.open(AGENT, title="a", requester=CUSTOMER.id, at=opened)
    if answered is not None:
        wf.comment(ticket.id, AGENT, "Here you go.", at=answered)
    (clock,) = wf.sla(ticket.id, now)
    return clock


def test_a_stopped_cycles_due_instant_is_where_its_target_was_reached_across_a_weekend():
    friday_4pm = datetime(2026, 3, 6, 15, tzinfo=UTC)  # 16:00 in Berlin, one business hour before closing
    monday_11am = datetime(2026, 3, 9, 10, tzinfo=UTC)
    clock = _answered(friday_4pm, monday_11am, monday_11am + H)
    assert clock.due_at == datetime(2026, 3, 6, 16, tzinfo=UTC)  # Friday 17:00 Berlin, not Monday's opening
    assert clock.breached
    assert clock.elapsed == 3 * H  # Friday 16-17, Monday 9-11


def test_a_warning_threshold_is_crossed_by_a_microsecond_and_a_clock_that_never_started_is_not_running():
    opened = datetime(2026, 3, 2, 9, tzinfo=UTC)  # 10:00 in Berlin
    half = opened + timedelta(minutes=30)
    assert _answered(opened, half, half + H).warned == (0.5,)
    assert _answered(opened, half - timedelta(microseconds=1), half + H).warned == ()
    assert _answered(opened, half + timedelta(microseconds=1), half + H).warned == (0.5,)
    lc = _calendared(calendar="berlin", metrics=[{"id": "reply", "kind": "next_reply", "targets": [{"target": "1h"}]}])
    wf = tf.Workflow(lc)
    ticket = wf.open(AGENT, title="a", requester=CUSTOMER.id, at=opened)
    (clock,) = wf.sla(ticket.id, opened + H)  # no customer comment: the reply clock never started
    assert (clock.running, clock.paused, clock.cycles, clock.due_at) == (False, False, (), None)


def test_evaluate_refuses_a_naive_now_by_name():
    lc = _calendared(
        calendar="berlin", metrics=[{"id": "answer", "kind": "first_response", "targets": [{"target": "1h"}]}]
    )
    wf = tf.Workflow(lc)
    ticket = wf.open(AGENT, title="a", requester=CUSTOMER.id, at=T0_UTC)
    assert wf.sla_policy is not None
    with pytest.raises((TypeError, ValueError), match="now"):
        evaluate(wf.sla_policy, lc, ticket, wf.history(ticket.id), datetime(2026, 3, 2, 15))


def test_a_policy_calendar_choice_naming_no_calendar_is_refused_where_it_is_written():
    metric = {"id": "answer", "kind": "first_response", "targets": [{"target": "1h"}]}
    with pytest.raises(SlaConfigError) as refused:
        _calendared(calendar="berlin", calendar_by={"field": "org", "map": {"globex": "tokyo"}}, metrics=[metric])
    assert str(refused.value).startswith("calendared.toml:sla.calendar_by")
    assert "tokyo" in str(refused.value)


def test_each_reply_cycle_keeps_the_target_its_ticket_had_when_that_cycle_stopped():
    """Agent comments that stop nothing (no question open) are not taken for a cycle's stop."""
    metric = {
        "id": "reply",
        "kind": "next_reply",
        "targets": [{"when": {"tier": "gold"}, "target": "1h"}, {"target": "8h"}],
    }
    wf = tf.Workflow(_calendared(calendar="berlin", metrics=[metric]))
    opened = datetime(2026, 3, 2, 9, tzinfo=UTC)  # 10:00 in Berlin
    ticket = wf.open(AGENT, title="a", fields={"tier": "gold"}, requester=CUSTOMER.id, at=opened)

    def at(minutes: int) -> datetime:
        return opened + timedelta(minutes=minutes)

    wf.comment(ticket.id, AGENT, "Welcome!", at=at(10))  # no question open: stops nothing
    wf.update(ticket.id, AGENT, fields={"tier": "basic"}, at=at(20))
    wf.comment(ticket.id, CUSTOMER, "Question one?", at=at(30))
    wf.comment(ticket.id, AGENT, "Answer one.", at=at(50))  # stops the first cycle: basic, 8h
    wf.comment(ticket.id, AGENT, "Anything else?", at=at(55))  # stops nothing
    wf.update(ticket.id, AGENT, fields={"tier": "gold"}, at=at(60))
    wf.comment(ticket.id, CUSTOMER, "Question two?", at=at(70))
    wf.comment(ticket.id, AGENT, "Answer two.", at=at(80))  # stops the second: gold, 1h
    wf.update(ticket.id, AGENT, fields={"tier": "basic"}, at=at(90))
    (clock,) = wf.sla(ticket.id, at(120))
    assert [(c.started_at, c.stopped_at, c.target) for c in clock.cycles] == [
        (at(30), at(50), 8 * H),
        (at(70), at(80), H),
    ]


def test_an_acknowledgement_is_no_reply_and_starts_no_next_reply_cycle():
    clock = SteppableClock(ny(2026, 11, 30, 10))
    wf = tf.Workflow(tf.builtin("zendesk"), clock=clock)
    notice = wf.broadcast(AGENT, title="Maintenance Saturday", accounts=["acme"], comment="Heads up")
    clock.advance(minutes=5)
    wf.acknowledge(notice.id, "acme", tf.Actor("kim", roles={"requester"}, accounts={"acme"}))
    ack = wf.history(notice.id)[-1]
    assert ack.comment is not None
    assert "ack" in ack.meta
    assert wf.sla_policy is not None
    assert not any(m.start.matches(ack) or m.stop.matches(ack) for m in wf.sla_policy.metrics)
    clock.advance(days=3)
    reply = clock_of(wf.sla(notice.id), "next_reply")  # from the stored fold
    assert reply.cycles == ()
    assert not reply.running
    whole = evaluate(wf.sla_policy, wf.lifecycle, wf.get(notice.id), wf.history(notice.id), clock.now())
    assert clock_of(whole, "next_reply") == reply
