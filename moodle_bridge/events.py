"""The one shape of a Moodle course completion, shared by the push (plugin) and pull (sync) paths.

The Moodle plugin (``moodle_plugin/local_badgehub/classes/payload.php``) builds the same payload in
PHP; the contract tests check both produce the same ``data`` for the same completion, and that the
webhook mapping in the README yields the same :class:`LearningEvent` fields as :func:`completion_event`.
The envelope follows Standard Webhooks' recommended ``{"type", "timestamp", "data"}``
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#payload-structure).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from connectors.types import LearningEvent, PlatformUser
from moodle_bridge.client import Competency, Course, EnrolledUser

EVENT_TYPE = "course_completed"

#: The webhook connector's JMESPath mapping for the plugin's payload (README, "Push"). Applied to a
#: plugin payload it yields exactly the fields :func:`completion_event` gives the sync's events.
WEBHOOK_MAPPING: dict[str, str] = {
    "event_type": "type",
    "key": "data.course.idnumber || data.course.shortname",
    "recipient_email": "data.user.email",
    "recipient_name": "data.user.fullname",
    "occurred_at": "data.completion.completed_at",
    "idempotency_key": "join(':', ['moodle', data.site.url, 'course', to_string(data.course.id), "
    "'user', to_string(data.user.id)])",
    "outcomes": "data.competencies[?idnumber].idnumber",
    "platform_user_id": "to_string(data.user.id)",
    "platform": "data.site.url",
    "course_id": "to_string(data.course.id)",
}


def completion_key(site_url: str, course_id: int, user_id: int) -> str:
    """The idempotency key of "user completed course" on a site, identical on both paths:
    ``moodle:<site url>:course:<course id>:user:<user id>`` (site URL without trailing ``/``)."""
    return f"moodle:{site_url.rstrip('/')}:course:{int(course_id)}:user:{int(user_id)}"


def iso_utc(unix_seconds: int | None) -> str | None:
    """Unix seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (what the plugin's ``gmdate`` writes), None stays None."""
    if not unix_seconds:
        return None
    return datetime.fromtimestamp(int(unix_seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def completion_payload(
    *,
    site_url: str,
    course: Course,
    user: EnrolledUser,
    timecompleted: int | None,
    competencies: Iterable[Competency] = (),
    timestamp: str | None = None,
) -> dict[str, Any]:
    """Build the ``course_completed`` payload.

    Shape::

        {"type": "course_completed", "timestamp": ISO-8601 Z,
         "data": {"site": {"url"}, "course": {"id", "shortname", "idnumber", "fullname"},
                  "user": {"id", "idnumber", "email", "firstname", "lastname", "fullname"},
                  "completion": {"timecompleted": Unix s | null, "completed_at": ISO Z | null},
                  "competencies": [{"id", "idnumber", "shortname"}]}}

    ``competencies`` are the achieved (proficient) ones; hidden user fields are null.
    """
    completed_at = iso_utc(timecompleted)
    return {
        "type": EVENT_TYPE,
        "timestamp": timestamp or completed_at or iso_utc(int(datetime.now(UTC).timestamp())),
        "data": {
            "site": {"url": site_url.rstrip("/")},
            "course": {
                "id": course.id,
                "shortname": course.shortname,
                "idnumber": course.idnumber,
                "fullname": course.fullname,
            },
            "user": {
                "id": user.id,
                "idnumber": user.idnumber,
                "email": user.email,
                "firstname": user.firstname,
                "lastname": user.lastname,
                "fullname": user.fullname,
            },
            "completion": {"timecompleted": timecompleted, "completed_at": completed_at},
            "competencies": [{"id": c.id, "idnumber": c.idnumber, "shortname": c.shortname} for c in competencies],
        },
    }


def completion_event(connector_slug: str, payload: dict[str, Any]) -> LearningEvent:
    """Normalise a ``course_completed`` payload into the hub's :class:`LearningEvent`.

    ``key`` is the course idnumber, or its shortname when the idnumber is empty; ``outcomes`` are the
    achieved competencies' idnumbers; the recipient carries the Moodle user id and site URL, which is
    also how an LTI launch from the same site names the learner (``sub``, ``iss``).
    """
    data = payload["data"]
    site, course, user = data["site"], data["course"], data["user"]
    completed_at = data["completion"].get("completed_at")
    return LearningEvent(
        connector=connector_slug,
        event_type=payload["type"],
        key=course.get("idnumber") or course.get("shortname") or None,
        recipient=PlatformUser(
            email=user.get("email"),
            name=user.get("fullname"),
            platform_user_id=str(user["id"]),
            platform=site["url"],
            sourced_id=user.get("idnumber") or None,
        ),
        occurred_at=datetime.strptime(completed_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if completed_at else None,
        idempotency_key=completion_key(site["url"], course["id"], user["id"]),
        outcomes=tuple(c["idnumber"] for c in data.get("competencies", []) if c.get("idnumber")),
        data=payload,
        course_id=str(course["id"]),
    )
