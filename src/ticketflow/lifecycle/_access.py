"""Who may see and change one ticket: staff roles, relations, and who may set each part of it.

Roles say what kind of actor may fire a transition. Access says whether this
actor may touch this ticket at all, and which of its parts they may set:

- **staff** roles (``[access].staff``; by default every role that acts as
  ``agent``, and ``system``) see and act on every ticket;
- anyone else is a **customer**, who sees and acts only on tickets they are
  related to: as the requester, a participant or the assignee
  (``[access].relations``), or by sharing the value of a field such as
  ``organization`` (``[access].shared_field``, matched against
  :attr:`Actor.accounts <ticketflow.Actor.accounts>`);
- each field (``set_by``), tag (``[access.tags]``) and ticket attribute
  (``[access.attributes]``) names the roles that may set it; by default the
  staff roles. A transition's own ``set_fields``/``add_tags`` and timed rules
  are the lifecycle's doing, not the caller's, and are never checked; the
  ``system`` role (automations) may set everything;
- a comment's author is the actor, unless the actor holds an ``on_behalf``
  role (then both names are kept: the event's actor and the comment's
  author); internal comments need an ``internal_comments`` role.

A stranger (a customer not related to the ticket) gets
:class:`~ticketflow.TicketNotFound`, exactly as for an id that does not
exist, so ticket ids cannot be probed. Everything is compiled once per
lifecycle; per actor, the answer to "may these roles set everything?" is
cached, so staff pay nothing per step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ticketflow.errors import PermissionDenied, TicketNotFound
from ticketflow.lifecycle._definition import FieldSpec
from ticketflow.model import Actor, Comment, Ticket

__all__ = ["RELATIONS", "Access", "Standing", "expand_roles"]

#: How a customer may be related to a ticket.
RELATIONS = ("requester", "participant", "assignee")
#: Ticket attributes a step may set, besides fields and tags.
ATTRIBUTES = ("title", "requester", "assignee", "participants")
#: The role automations act as: it may set everything (the lifecycle's own rules).
SYSTEM_ROLE = "system"

_EMPTY: frozenset[str] = frozenset()


def _as_set(value: Any) -> Any:
    try:
        return frozenset(value)
    except TypeError:
        return value


def expand_roles(inherits: Mapping[str, frozenset[str]], roles: Iterable[str]) -> frozenset[str]:
    """*roles* with every role they inherit, transitively."""
    result = set(roles)
    todo = list(result)
    while todo:
        for inherited in inherits.get(todo.pop(), ()):
            if inherited not in result:
                result.add(inherited)
                todo.append(inherited)
    return frozenset(result)


@attrs.frozen(slots=True)
class Standing:
    """What one set of roles amounts to under a lifecycle's access rules (cached per role set).

    Attributes:
        roles: the roles with inheritance.
        staff: sees and acts on every ticket.
        free: may set every field, tag and attribute, post internal comments
            and record comments on someone's behalf: a step needs no per-part check.
    """

    roles: frozenset[str]
    staff: bool
    free: bool


@attrs.frozen(eq=False)
class Access:
    """A lifecycle's access rules, compiled once by the loader (``lifecycle.access``).

    Attributes:
        staff: roles that see and change every ticket.
        customers: the lifecycle's other roles (``requester`` in the built-ins).
        relations: how a customer relates to a ticket (``requester``,
            ``participant``, ``assignee``).
        shared_field: customers whose ``Actor.accounts`` hold this field's
            value are related to the ticket too (``None``: no such field).
        field_setters: for each field, the roles that may set it.
        attribute_setters: for ``title``, ``requester``, ``assignee`` and
            ``participants``, the roles that may set them.
        tag_setters: ``(tag or prefix:* pattern, roles)`` in order; the first
            matching entry decides.
        default_setters: the roles that may set a tag no entry matches.
        internal_comments: roles that may post internal comments.
        on_behalf: roles that may record a comment whose author is someone else.
        broadcast: roles that may open broadcast and multicast tickets.
        role_inherits: the lifecycle's role inheritance.
        hidden: the internal fields.
        internal_tags: the internal tags (``prefix:*`` patterns allowed).
        field_specs: the field schema (to tell a value given from the one already there).
    """

    staff: frozenset[str]
    customers: frozenset[str]
    relations: frozenset[str]
    shared_field: str | None
    field_setters: Mapping[str, frozenset[str]]
    attribute_setters: Mapping[str, frozenset[str]]
    tag_setters: tuple[tuple[str, frozenset[str]], ...]
    default_setters: frozenset[str]
    internal_comments: frozenset[str]
    on_behalf: frozenset[str]
    broadcast: frozenset[str]
    role_inherits: Mapping[str, frozenset[str]]
    hidden: frozenset[str] = frozenset()
    internal_tags: frozenset[str] = frozenset()
    field_specs: Mapping[str, FieldSpec] = attrs.field(factory=dict, repr=False)
    _standings: dict[frozenset[str], Standing] = attrs.field(factory=dict, init=False, repr=False)

    # -- who is who ------------------------------------------------------------------

    def standing(self, actor: Actor) -> Standing:
        """The actor's standing (computed once per role set)."""
        try:
            found = self._standings.get(actor.roles)
        except AttributeError:  # not an Actor: say which argument, not which attribute
            raise TypeError(f"actor must be a ticketflow.Actor, got {type(actor).__name__}") from None
        if found is None:
            roles = expand_roles(self.role_inherits, actor.roles)
            setters = [
                *self.field_setters.values(),
                *self.attribute_setters.values(),
                *(roles_ for _, roles_ in self.tag_setters),
                self.default_setters,
                self.internal_comments,
                self.on_behalf,
            ]
            free = SYSTEM_ROLE in roles or all(roles & allowed for allowed in setters)
            found = self._standings[actor.roles] = Standing(roles, bool(roles & self.staff), free)
        return found

    def is_staff(self, actor: Actor) -> bool:
        """Whether *actor* holds a staff role (with inheritance)."""
        return self.standing(actor).staff

    def related(self, ticket: Ticket, actor: Actor) -> bool:
        """Whether *actor* is related to *ticket* as a customer (requester, participant, shared account...)."""
        relations = self.relations
        if "requester" in relations and actor.id == ticket.requester:
            return True
        if "participant" in relations and actor.id in ticket.participants:
            return True
        if "assignee" in relations and actor.id == ticket.assignee:
            return True
        shared = self.shared_field
        return shared is not None and bool(actor.accounts) and ticket.fields.get(shared) in actor.accounts

    def may_see(self, ticket: Ticket, actor: Actor) -> bool:
        """Whether *actor* may see (and act on) *ticket* at all: staff, or related to it."""
        return self.standing(actor).staff or self.related(ticket, actor)

    def check_read(self, ticket: Ticket, actor: Actor) -> Ticket:
        """*ticket*, or :class:`~ticketflow.TicketNotFound` when *actor* may not see it (ids cannot be probed)."""
        if not self.may_see(ticket, actor):
            raise TicketNotFound(ticket.id)
        return ticket

    # -- what they may set -------------------------------------------------------------

    def may_set_field(self, standing: Standing, name: str) -> bool:
        """Whether roles of *standing* may set the field *name* (``system`` may set every field the lifecycle has)."""
        allowed = self.field_setters.get(name)
        return allowed is not None and (bool(standing.roles & allowed) or SYSTEM_ROLE in standing.roles)

    def tag_setters_of(self, tag: str) -> frozenset[str]:
        """The roles that may add or remove *tag*."""
        for pattern, roles in self.tag_setters:
            if tag == pattern or (pattern.endswith("*") and tag.startswith(pattern[:-1])):
                return roles
        return self.default_setters

    def check_open(
        self,
        actor: Actor,
        standing: Standing,
        *,
        fields: Mapping[str, Any],
        tags: Iterable[str],
        requester: str | None,
        assignee: str | None,
        participants: frozenset[str],
        comment: Comment | None,
    ) -> None:
        """Refuse (PermissionDenied) a part of a new ticket the opener may not set.

        The opener is always the one giving the title; naming themselves as the
        requester is what the default does anyway.
        """
        ticket_id, trigger = "(new)", "open"
        self._check_fields(ticket_id, trigger, actor, standing, fields)
        self._check_tags(ticket_id, trigger, actor, standing, tags)
        people = {
            "requester": requester is not None and requester != actor.id,
            "assignee": assignee is not None,
            "participants": bool(participants),
        }
        for name, given in people.items():
            if given:
                self._check_role(ticket_id, trigger, actor, standing, self.attribute_setters[name], f"set the {name}")
        self.check_comment(ticket_id, trigger, actor, standing, comment)

    def check_change(
        self,
        ticket: Ticket,
        trigger: str,
        actor: Actor,
        standing: Standing,
        *,
        comment: Comment | None,
        fields: Mapping[str, Any] | None,
        add_tags: Iterable[str],
        remove_tags: Iterable[str],
        attributes: Mapping[str, Any] | None,
    ) -> None:
        """Refuse (PermissionDenied) a part of a step the actor may not set.

        A part given with the value it already has is no change and passes (a
        form sending every field back), except an internal field or tag: those
        are checked whatever their value, so a refusal never tells whether a
        hidden value was already there.
        """
        if fields:
            current = ticket.fields
            changed = {name: v for name, v in fields.items() if name in self.hidden or not self._same(name, v, current)}
            self._check_fields(ticket.id, trigger, actor, standing, changed)
        tags = ticket.tags
        self._check_tags(ticket.id, trigger, actor, standing, [t for t in add_tags if t not in tags or self.hides(t)])
        self._check_tags(ticket.id, trigger, actor, standing, [t for t in remove_tags if t in tags or self.hides(t)])
        if attributes:
            for name, value in attributes.items():
                allowed = self.attribute_setters.get(name)
                if allowed is None:
                    continue  # an unknown attribute is the engine's FieldError
                before = getattr(ticket, name)
                if value == before or (name == "participants" and _as_set(value) == before):
                    continue
                self._check_role(ticket.id, trigger, actor, standing, allowed, f"set the {name}")
        self.check_comment(ticket.id, trigger, actor, standing, comment)

    def hides(self, tag: str) -> bool:
        """Whether *tag* is internal (customers never see it)."""
        return any(tag == p or (p.endswith("*") and tag.startswith(p[:-1])) for p in self.internal_tags)

    def _same(self, name: str, value: Any, current: Mapping[str, Any]) -> bool:
        spec = self.field_specs.get(name)
        if spec is None:
            return False
        try:
            return bool(spec.coerce(value) == current.get(name))
        except ValueError:
            return False

    def check_comment(
        self, ticket_id: str, trigger: str, actor: Actor, standing: Standing, comment: Comment | None
    ) -> None:
        """Refuse a comment in someone else's name, or an internal one, unless the roles allow it."""
        if comment is None:
            return
        if comment.author != actor.id:
            self._check_role(
                ticket_id, trigger, actor, standing, self.on_behalf, f"post a comment authored by {comment.author!r}"
            )
        if comment.visibility == "internal":
            self._check_role(ticket_id, trigger, actor, standing, self.internal_comments, "post an internal comment")

    def _check_fields(
        self, ticket_id: str, trigger: str, actor: Actor, standing: Standing, fields: Mapping[str, Any]
    ) -> None:
        for name, value in fields.items():
            allowed = self.field_setters.get(name)
            if allowed is None:
                continue  # an unknown field is the engine's FieldError
            self._check_role(ticket_id, trigger, actor, standing, allowed, f"set field {name!r}")
            if name == self.shared_field and not standing.staff and value is not None and value not in actor.accounts:
                raise PermissionDenied(
                    ticket_id,
                    trigger,
                    actor.id,
                    sorted(actor.roles),
                    sorted(self.staff),
                    subject=f"set field {name!r} to an account they do not belong to",
                )

    def _check_tags(self, ticket_id: str, trigger: str, actor: Actor, standing: Standing, tags: Iterable[str]) -> None:
        for tag in tags:
            if isinstance(tag, str):  # anything else is the engine's FieldError
                self._check_role(ticket_id, trigger, actor, standing, self.tag_setters_of(tag), f"set tag {tag!r}")

    @staticmethod
    def _check_role(
        ticket_id: str, trigger: str, actor: Actor, standing: Standing, allowed: frozenset[str], subject: str
    ) -> None:
        if not standing.roles & allowed and SYSTEM_ROLE not in standing.roles:
            raise PermissionDenied(ticket_id, trigger, actor.id, sorted(actor.roles), sorted(allowed), subject=subject)
