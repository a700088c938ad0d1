"""Fixtures: the hub served over real HTTP, a Moodle-shaped lti1p3platform platform served next to it,
the platform registered in the hub through the JSON API, an issuer with two badge classes."""

from __future__ import annotations

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


def serve_hub(settings):
    """create_app on a free port, base_url pointing at it. Returns (app, url, stop)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings.with_(base_url=url))
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop():
        server.shutdown()
        app.extensions["hub.jobs"].shutdown()
        app.extensions["hub"].db.dispose()

    return app, url, stop


@dataclass
class World:
    app: object
    hub: str
    platform: Platform
    badges: dict[str, str]

    @property
    def ctx(self):
        return self.app.extensions["hub"]

    def browser(self) -> Browser:
        return Browser()

    def registration_id(self) -> str:
        regs = requests.get(f"{self.hub}/api/v1/lti/registrations", headers=ADMIN, timeout=10).json()
        return regs["items"][0]["id"]


def make_members(p: Platform) -> None:
    for m in (
        Member("10", "Anna Nowak", "anna.nowak@example.org", [INSTRUCTOR], "Anna", "Nowak"),
        Member("4", "Łukasz Wójcik", "Lukasz.Wojcik@Example.org", [LEARNER], "Łukasz", "Wójcik"),
        Member("5", "Zofia Gęśla", "zofia@example.org", [LEARNER], "Zofia", "Gęśla"),
        Member("6", "Jan Bezmaila", None, [LEARNER], "Jan", "Bezmaila"),
    ):
        p.members[m.user_id] = m


def make_badges(ctx) -> dict[str, str]:
    from hub.badges import services as badges

    with ctx.db.session_scope() as s:
        issuer = badges.create_issuer(s, ctx, name="Szkoła Łódź", url="https://szkola.example.pl")
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
        return {"safe": a.public_id, "passwords": b.public_id}


@pytest.fixture
def hub_server(settings):
    app, url, stop = serve_hub(settings)
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
    r = requests.post(
        f"{url}/api/v1/lti/registrations", json=platform_server.hub_registration(), headers=ADMIN, timeout=10
    )
    assert r.status_code == 201, r.text
    return World(app, url, platform_server, make_badges(app.extensions["hub"]))
