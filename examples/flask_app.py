"""A Flask endpoint that opens tickets and fires transitions (``pip install flask``).

Errors map to HTTP: refusals 409 with the reason, bad data 422, unknown
tickets 404. The test suite drives it with Flask's test client.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

import ticketflow as tf


def create_app(workflow: tf.Workflow) -> Flask:
    """The app: POST /tickets, POST /tickets/<id>/<trigger>, GET /tickets/<id>."""
    app = Flask(__name__)

    def actor() -> tf.Actor:
        # A real app takes this from its authentication; the demo trusts headers.
        return tf.Actor(request.headers.get("X-User", "anonymous"), roles=request.headers.get("X-Roles", "").split(","))

    def shown(ticket: tf.Ticket) -> dict[str, Any]:
        return {"id": ticket.id, "state": ticket.state, "version": ticket.version, "fields": dict(ticket.fields)}

    @app.errorhandler(tf.TicketflowError)
    def refused(error: tf.TicketflowError) -> tuple[Any, int]:
        status = 404 if isinstance(error, tf.TicketNotFound) else 422 if isinstance(error, tf.FieldError) else 409
        return jsonify({"error": type(error).__name__, "message": str(error)}), status

    @app.post("/tickets")
    def open_ticket() -> tuple[Any, int]:
        body = request.get_json(force=True)
        ticket = workflow.open(actor(), title=body.get("title", ""), fields=body.get("fields"))
        return jsonify(shown(ticket)), 201

    @app.post("/tickets/<ticket_id>/<trigger>")
    def fire(ticket_id: str, trigger: str) -> Any:
        body = request.get_json(silent=True) or {}
        ticket = workflow.fire(ticket_id, trigger, actor(), comment=body.get("comment"), fields=body.get("fields"))
        return jsonify(shown(ticket))

    @app.get("/tickets/<ticket_id>")
    def show(ticket_id: str) -> Any:
        view = workflow.view(ticket_id, actor())
        comments = [e.comment.body for e in view.events if e.comment]
        return jsonify({**shown(view.ticket), "comments": comments})

    return app


if __name__ == "__main__":
    create_app(tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository("flask-demo.db"))).run()
