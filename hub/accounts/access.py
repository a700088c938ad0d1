"""Who may do what: a :class:`Principal` (a signed-in user or an API token) and issuer scoping.

Three abilities per issuer: ``view`` (badge classes, awards), ``award`` (award, revoke) and
``configure`` (issuer profile, badge classes, connectors, rules, events). Issuer staff have view +
award, issuer administrators all three, site administrators all three everywhere plus site matters
(issuers, users, site-level connectors). An API token caps its user further by scope: ``read`` allows
no writes, ``award`` allows writes needing ``award`` only, ``manage`` allows the user's writes.
Objects of an issuer the principal has no role at are reported as not found, never as forbidden, so
their existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, false, true

from hub.accounts.models import ROLE_ADMIN, ROLE_STAFF
from hub.errors import Forbidden, NotFound, Unauthorized
from hub.i18n import lazy as _l

VIEW, AWARD, CONFIGURE = "view", "award", "configure"
ABILITIES = {ROLE_STAFF: {VIEW, AWARD}, ROLE_ADMIN: {VIEW, AWARD, CONFIGURE}}
SCOPES = ("read", "award", "manage")
_SCOPE_WRITES = {"read": set(), "award": {AWARD}, "manage": {VIEW, AWARD, CONFIGURE}}
#: What people call the objects named in "not found" messages (``what``: the model's class name).
OBJECT_NAMES = {
    "Issuer": _l("issuer"),
    "BadgeClass": _l("badge"),
    "Assertion": _l("award"),
    "ConnectorConfig": _l("connector"),
    "AwardRule": _l("rule"),
    "InboundEvent": _l("event"),
    "BulkJob": _l("bulk award"),
    "Job": _l("background job"),
    "IssuerKey": _l("key"),
    "Learner": _l("learner"),
    "object": _l("object"),
}


def not_found(what: str) -> NotFound:
    """The "no such …" error for an object of kind ``what`` (a model's class name, or a word)."""
    return NotFound(_l("no such %(object)s", object=OBJECT_NAMES.get(what, what)))


@dataclass(frozen=True)
class Principal:
    """The acting person for one request.

    Attributes:
        user_id / email: the user (``user_id`` None for the bootstrap ``HUB_ADMIN_TOKEN`` and the CLI).
        site_admin: may do everything.
        roles: ``{issuer row id: "admin" | "staff"}``.
        scope: the API token's scope (``manage`` for the console).
        via: ``console`` | ``api`` | ``cli`` | ``lti`` | a connector kind | ``job`` (recorded in the
            audit log).
        locale: the user's language setting (``pl``, ``en`` or None), which the pages and error
            messages of the request follow (:func:`hub.i18n.select_locale`).
    """

    user_id: int | None
    email: str
    site_admin: bool = False
    roles: dict[int, str] = field(default_factory=dict)
    scope: str = "manage"
    via: str = "console"
    locale: str | None = None

    @classmethod
    def system(cls, actor: str, *, issuer_id: int | None, via: str) -> Principal:
        """A system actor that awards on its own: a connector (``via="webhook"``, ``"moodle"``, ...) or a
        job. It may award (never configure) the badge classes of ``issuer_id``, the issuer its
        connector or registration belongs to; ``None`` (a site-level connector, set up by a site
        administrator) may award any issuer's. ``actor`` names it in the audit log
        (``connector:moodle-main``)."""
        if issuer_id is None:
            return cls(None, actor, site_admin=True, scope="award", via=via)
        return cls(None, actor, roles={issuer_id: ROLE_STAFF}, scope="award", via=via)

    @classmethod
    def for_user(cls, user, *, scope: str = "manage", via: str = "console") -> Principal:
        """The principal of an active :class:`hub.accounts.models.User`."""
        return cls(
            user_id=user.id,
            email=user.email,
            site_admin=user.is_site_admin,
            roles={m.issuer_id: m.role for m in user.memberships},
            scope=scope,
            via=via,
            locale=user.locale,
        )

    def may(self, issuer_id: int | None, ability: str, *, write: bool = False) -> bool:
        """Whether this principal has ``ability`` at ``issuer_id`` (None: a site-level object)."""
        if write and ability not in _SCOPE_WRITES[self.scope]:
            return False
        if self.site_admin:
            return True
        return issuer_id is not None and ability in ABILITIES.get(self.roles.get(issuer_id, ""), ())

    def issuer_ids(self, ability: str = VIEW) -> set[int] | None:
        """Issuer row ids where the principal has ``ability``; None means every issuer (site admin)."""
        if self.site_admin:
            return None
        return {i for i, role in self.roles.items() if ability in ABILITIES[role]}

    def scope_filter(self, column, ability: str = VIEW) -> ColumnElement[bool]:
        """A WHERE clause limiting ``column`` (an issuer id column) to this principal's issuers."""
        ids = self.issuer_ids(ability)
        if ids is None:
            return true()
        return column.in_(ids) if ids else false()

    def require(self, issuer_id: int | None, ability: str, *, write: bool = False, what: str = "object") -> None:
        """Raise unless allowed.

        Raises:
            NotFound: the principal has no role at the issuer at all (existence is not revealed).
            Forbidden: it has a role there, but not this ability (or the token's scope is too small).
        """
        if self.may(issuer_id, ability, write=write):
            return
        if not self.site_admin and (issuer_id is None or issuer_id not in self.roles):
            raise not_found(what)
        raise Forbidden(_l("your role or token scope does not allow this (%(ability)s)", ability=ability))

    def require_site_admin(self, *, write: bool = False) -> None:
        """Raise Forbidden unless a site administrator (with a write scope when ``write``)."""
        if not self.site_admin or (write and self.scope != "manage"):
            raise Forbidden(_l("only site administrators may do this"))


def current_principal() -> Principal:
    """The principal the web layer authenticated for this request: the signed-in console user, or the
    API token's user. For connector screens and API routes, which may not import :mod:`hub.web`.

    Raises:
        Unauthorized: the request is not authenticated (outside the console and the API).
    """
    from flask import g

    found = g.get("hub_principal")
    if found is None:
        raise Unauthorized(_l("sign in, or send Authorization: Bearer <API token>"))
    return found
