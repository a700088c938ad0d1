"""Fixtures: the hub served over real HTTP, a Moodle-shaped lti1p3platform platform served next to it,
an issuer with two badge classes, the platform registered in the hub through the JSON API and assigned
to that issuer."""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass

import pytest
import requests
from werkzeug.serving import make_server

from hub import create_app
from hub.demo import badge_png

from .platform import INSTRUCTOR, LEARNER, Browser, Member, Platform, Served, create_platform_app

ADMIN = {"Authorization": "Bearer admin-token"}
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def serve_hub(settings, *, allow_private_hosts: bool = True):
    """create_app on a free port, base_url pointing at it. Returns (app, url, stop).

    The test platforms are served on 127.0.0.1, so ``HUB_LTI_ALLOW_PRIVATE_HOSTS`` is on unless
    ``allow_private_hosts=False`` (the production default, for the SSRF tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings.with_(base_url=url, lti_allow_private_hosts=allow_private_hosts))
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop():
        server.shutdown()
        app.extensions["hub.jobs"].shutdown()
        app.extensions["hub"].db.dispose()

    return app, url, stop


class Badges(dict):
    """``{"safe": <public id>, "passwords": <public id>}`` with ``issuer``, their issuer's public id."""

    issuer: str = ""


@dataclass
class World:
    app: object
    hub: str
    platform: Platform
    badges: Badges

    @property
    def ctx(self):
        return self.app.extensions["hub"]

    def browser(self) -> Browser:
        return Browser()

    def registration_id(self) -> str:
        regs = requests.get(f"{self.hub}/api/v1/lti/registrations", headers=ADMIN, timeout=10).json()
        return next(r["id"] for r in regs["items"] if r["issuer"] == self.platform.iss)


def make_members(p: Platform) -> None:
    for m in (
        Member("10", "Anna Nowak", "anna.nowak@example.org", [INSTRUCTOR], "Anna", "Nowak"),
        Member("4", "Łukasz Wójcik", "Lukasz.Wojcik@Example.org", [LEARNER], "Łukasz", "Wójcik"),
        Member("5", "Zofia Gęśla", "zofia@example.org", [LEARNER], "Zofia", "Gęśla"),
        Member("6", "Jan Bezmaila", None, [LEARNER], "Jan", "Bezmaila"),
    ):
        p.members[m.user_id] = m


def make_badges(ctx, name: str = "Szkoła Łódź") -> Badges:
    """An issuer with two badge classes, ``safe`` and ``passwords`` (:class:`Badges`)."""
    from hub.badges import services as badges

    with ctx.db.session_scope() as s:
        issuer = badges.create_issuer(s, ctx, name=name, url="https://szkola.example.pl")
        a = badges.create_badge_class(
            s,
            ctx,
            issuer,
            name="Bezpieczny w sieci",
            description="Zna zasady",
            image=badge_png(),
            criteria_narrative="Ukończ moduł 1.",
        )
        b = badges.create_badge_class(s, ctx, issuer, name="Hasła", description="Silne hasła", image=badge_png())
        out = Badges(safe=a.public_id, passwords=b.public_id)
        out.issuer = issuer.public_id
        return out


def approve(hub: str, reg_id: str, issuer: str) -> requests.Response:
    """Approve a registration through the admin API, assigning it to ``issuer`` (a public id)."""
    return requests.post(
        f"{hub}/api/v1/lti/registrations/{reg_id}/approve", json={"badge_issuer": issuer}, headers=ADMIN, timeout=10
    )


@pytest.fixture
def hub_server(settings):
    app, url, stop = serve_hub(settings)
    yield app, url
    stop()


@pytest.fixture
def strict_hub(settings):
    """The hub with the production default: dynamic registration calls public addresses only."""
    app, url, stop = serve_hub(settings, allow_private_hosts=False)
    yield app, url
    stop()


@pytest.fixture
def platform_server(hub_server):
    _app, url = hub_server
    p = Platform(tool_base=url)
    served = Served(create_platform_app(p))
    p.base = served.url
    p.make_registration()
    make_members(p)
    yield p
    served.stop()


@pytest.fixture
def world(hub_server, platform_server) -> World:
    app, url = hub_server
    badges = make_badges(app.extensions["hub"])
    r = requests.post(
        f"{url}/api/v1/lti/registrations",
        json=platform_server.hub_registration(badge_issuer=badges.issuer),
        headers=ADMIN,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return World(app, url, platform_server, badges)


@pytest.fixture
def bare_platform(hub_server):
    """A served platform that is not registered in the hub yet (for dynamic registration)."""
    _app, url = hub_server
    p = Platform(tool_base=url, client_id="dyn-client-7", deployment_id="2")
    served = Served(create_platform_app(p))
    p.base = served.url
    p.make_registration()
    make_members(p)
    yield p
    served.stop()


class Console:
    """A person's browser on the admin console over real HTTP: signs in through the login form, sends
    the CSRF token with every form (``csrf=False`` leaves it out)."""

    def __init__(self, hub: str, email: str, *, lang: str = "en"):
        self.hub = hub
        self.http = requests.Session()
        self.http.headers.update({"Accept": "text/html", "Accept-Language": lang})
        token = self.token("/admin/login")
        r = self.http.post(f"{hub}/admin/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        assert r.ok and "/admin/login" not in r.url, r.text

    def token(self, path: str = "/admin/account") -> str:
        return CSRF.search(self.http.get(f"{self.hub}{path}", timeout=10).text).group(1)

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(f"{self.hub}{path}", timeout=20, **kw)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw) -> requests.Response:
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.token()
        return self.http.post(path if path.startswith("http") else f"{self.hub}{path}", data=data, timeout=20, **kw)


@pytest.fixture
def people(hub_server) -> dict[str, str]:
    """A site administrator, and the administrator and staff of an issuer (e-mails by role), each with an
    API token of scope ``manage`` (``<role>-token``); the site administrator also one of scope ``read``;
    ``issuer``: that issuer's public id."""
    from hub.accounts import services as accounts
    from hub.badges import services as badges

    app, _url = hub_server
    ctx = app.extensions["hub"]
    out = {"site": "site@example.org", "admin": "admin@example.org", "staff": "staff@example.org"}
    with ctx.db.session_scope() as s:
        issuer = badges.create_issuer(s, ctx, name="Związek Sportowy", url="https://zwiazek.example.pl")
        for role, email in list(out.items()):
            user = accounts.create_user(s, email=email, password=PASSWORD, site_admin=role == "site")
            if role != "site":
                accounts.set_role(s, user, issuer.id, role)
            out[f"{role}-token"] = accounts.create_api_token(s, user, name=role, scope="manage")[1]
            if role == "site":
                out["site-read-token"] = accounts.create_api_token(s, user, name="read", scope="read")[1]
        out["issuer"] = issuer.public_id
    return out
