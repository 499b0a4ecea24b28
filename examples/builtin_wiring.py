"""The few lines an application writes for what the built-ins leave to it.

The built-ins name policies and notifiers only the application can provide:

- ClickUp routes new tickets to ``point_of_contact`` (the Facets PoC of the
  customer's account), DevRev to ``part_owner`` (the default assignee of a part);
- Sighten transfers configuration changes to ``account_manager`` (the owner of
  the customer record in Salesforce) and pings the product manager of an
  escalated bug through the ``product_manager_ping`` outbox message.

Without them the built-ins still run: the routes are ``optional`` (tickets stay
where they are) and the ping waits in the outbox, undelivered. Run it with
``python examples/builtin_wiring.py``; the test suite runs it too.
"""

from __future__ import annotations

from datetime import UTC, datetime

import ticketflow as tf

# Your directory lookups: a CRM, a config file, a database table.
POC_BY_ACCOUNT = {"acme": "facets-poc-1", "globex": "facets-poc-2"}
SALESFORCE_OWNER = {"installer@solar.example": "am-alex"}
PART_OWNER = {"exports": "cxe-exports", "billing": "cxe-billing"}


def ping_product_manager(message: tf.OutboxMessage) -> None:
    """Deliver a ``product_manager_ping``: here, print it; in your app, a chat message or a comment in Jira."""
    fields = message.payload["fields"]
    print(f"@{fields['product_manager']}: {message.ticket_id} escalated as {fields['bug_ticket']}")


def registry() -> tf.Registry:
    """One registry with everything the five built-ins name (each Workflow uses what its lifecycle names)."""
    registry = tf.Registry()
    registry.add_policy("point_of_contact", tf.PointOfContact(POC_BY_ACCOUNT.get))  # ClickUp, by `account`
    registry.add_policy("part_owner", tf.PointOfContact(PART_OWNER.get, field="part"))  # DevRev, by `part`
    registry.add_policy(
        "account_manager", lambda ticket, _repository: SALESFORCE_OWNER.get(ticket.requester or "")
    )  # Sighten, by the requester's customer record
    registry.add_notifier("product_manager_ping", ping_product_manager)  # Sighten's escalations
    return registry


def main() -> dict[str, str | None]:
    """Open a ticket in each wired built-in; return who got what."""
    at = datetime(2026, 7, 6, 14, tzinfo=UTC)
    shared = registry()
    clickup = tf.Workflow(tf.builtin("clickup"), registry=shared)
    poc = tf.Actor("pat@acme.example", roles={"requester"}, accounts={"acme"})
    cu = clickup.open(poc, title="Deploy fails on staging", at=at)

    devrev = tf.Workflow(tf.builtin("devrev"), registry=shared)
    dr = devrev.open(tf.Actor("ana", roles={"requester"}), title="Export drops rows", fields={"part": "exports"}, at=at)

    sighten = tf.Workflow(tf.builtin("sighten"), registry=shared)
    agent = tf.Actor("sam", roles={"agent"})
    sup = sighten.open(tf.Actor("installer@solar.example", roles={"requester"}), title="New template", at=at)
    sighten.fire(sup.id, "take", agent, assignee=agent.id, fields={"request_type": "general_inquiry"}, at=at)
    sup = sighten.update(sup.id, agent, fields={"request_type": "configuration_change"}, at=at)
    bug = sighten.open(tf.Actor("installer@solar.example", roles={"requester"}), title="PDF blank", at=at)
    sighten.fire(bug.id, "take", agent, assignee=agent.id, fields={"request_type": "technical_support"}, at=at)
    details = {"bug_ticket": "DEV-881", "reproduction_steps": "export a proposal", "product_manager": "pm-pat"}
    sighten.fire(bug.id, "escalate", agent, comment="Cannot fix in support", fields=details, at=at)
    sighten.deliver(at)

    assigned = {cu.id: cu.assignee, dr.id: dr.assignee, sup.id: sup.assignee}
    for ticket_id, assignee in assigned.items():
        print(f"{ticket_id} -> {assignee}")
    return assigned


if __name__ == "__main__":
    main()
