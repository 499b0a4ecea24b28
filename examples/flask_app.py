"""A Flask API over a Workflow that is safe to copy (``pip install flask``).

Every request must carry ``Authorization: Bearer <token>``, a token this app
signed when the user logged in (``itsdangerous``, which Flask itself uses for
its sessions): a header that merely names a user proves nothing. The token
maps to a :class:`ticketflow.Actor` with the roles and accounts your user
store gives them; the library then decides, per ticket, what that actor may
see and change (``docs/access.md``): another customer gets 404, exactly as
for a ticket that does not exist.

Errors map to HTTP: no or a bad token 401, refused 403, unknown (or not
yours) 404, bad data 422, not allowed now 409. The test suite drives it with
Flask's test client.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, g, jsonify, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

import ticketflow as tf

TOKEN_MAX_AGE = 8 * 3600  # seconds a login lasts


def issue_token(app: Flask, actor: tf.Actor) -> str:
    """The bearer token for *actor*, after your login checked who they are (password, SSO...)."""
    serializer: URLSafeTimedSerializer = app.extensions["ticketflow_tokens"]
    claims = {"id": actor.id, "roles": sorted(actor.roles), "accounts": sorted(actor.accounts)}
    return str(serializer.dumps(claims))


def create_app(workflow: tf.Workflow, *, secret_key: str) -> Flask:
    """The app: POST /tickets, POST /tickets/<id>/<trigger>, GET /tickets/<id>, GET /tickets."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secret_key
    app.extensions["ticketflow_tokens"] = URLSafeTimedSerializer(secret_key, salt="ticketflow-api")

    @app.before_request
    def authenticate() -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            abort(401)
        try:
            claims = app.extensions["ticketflow_tokens"].loads(token, max_age=TOKEN_MAX_AGE)
        except BadSignature:  # forged, tampered with or expired
            abort(401)
        g.actor = tf.Actor(claims["id"], roles=claims["roles"], accounts=claims["accounts"])

    def shown(ticket: tf.Ticket) -> dict[str, Any]:
        return {"id": ticket.id, "state": ticket.state, "version": ticket.version, "fields": dict(ticket.fields)}

    @app.errorhandler(401)
    def unauthenticated(_error: Exception) -> tuple[Any, int]:
        return jsonify({"error": "Unauthenticated", "message": "log in and send the token as a Bearer"}), 401

    @app.errorhandler(tf.TicketflowError)
    def refused(error: tf.TicketflowError) -> tuple[Any, int]:
        status = (
            404 if isinstance(error, tf.TicketNotFound)
            else 403 if isinstance(error, tf.PermissionDenied)
            else 422 if isinstance(error, tf.FieldError)
            else 409
        )  # fmt: skip
        return jsonify({"error": type(error).__name__, "message": str(error)}), status

    @app.post("/tickets")
    def open_ticket() -> tuple[Any, int]:
        body = request.get_json(force=True)
        ticket = workflow.open(g.actor, title=body.get("title", ""), fields=body.get("fields"))
        return jsonify(shown(workflow.view(ticket.id, g.actor).ticket)), 201

    @app.post("/tickets/<ticket_id>/<trigger>")
    def fire(ticket_id: str, trigger: str) -> Any:
        body = request.get_json(silent=True) or {}
        workflow.fire(
            ticket_id,
            trigger,
            g.actor,
            comment=body.get("comment"),
            visibility=body.get("visibility", "public"),
            fields=body.get("fields"),
        )
        return jsonify(shown(workflow.view(ticket_id, g.actor).ticket))

    @app.get("/tickets/<ticket_id>")
    def show(ticket_id: str) -> Any:
        view = workflow.view(ticket_id, g.actor)  # a customer sees only their tickets, and no internal data
        comments = [e.comment.body for e in view.events if e.comment]
        return jsonify({**shown(view.ticket), "comments": comments})

    @app.get("/tickets")
    def mine() -> Any:
        page = workflow.find(actor=g.actor, after=request.args.get("after"))  # a customer's own tickets
        return jsonify({"tickets": [shown(t) for t in page.tickets], "next": page.next_cursor})

    return app


if __name__ == "__main__":
    import os

    create_app(
        tf.Workflow(tf.builtin("zendesk"), tf.SQLiteRepository("flask-demo.db")),
        secret_key=os.environ["TICKETFLOW_API_SECRET"],  # a long random secret, never in the code
    ).run()
