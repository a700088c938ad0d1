"""A typed client for Moodle's REST web-service protocol.

Every call is ``POST <site>/webservice/rest/server.php`` with form fields ``wstoken``, ``wsfunction``,
``moodlewsrestformat=json`` and the function's parameters, arrays flattened PHP-style
(``options[ids][0]=2``, ``options[0][name]=limitfrom``). POST keeps the token out of web-server
access logs. See https://docs.moodle.org/dev/Web_service_API_functions and the recorded Moodle 5.1
answers in the project's contract tests.

Network errors, timeouts and HTTP 5xx are retried with exponential backoff (``tenacity``); Moodle's
own errors (HTTP 200 with ``exception``/``errorcode``/``message``) are never retried and become the
typed :mod:`moodle_bridge.errors`. All methods are read-only, so retrying a POST is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential, wait_random

from hub.i18n import joined
from hub.i18n import lazy as _l
from moodle_bridge.errors import (
    MoodleAccessDenied,
    MoodleError,
    MoodleProtocolError,
    MoodleUnavailable,
    error_from_body,
    is_error_body,
)

log = logging.getLogger(__name__)

REST_PATH = "/webservice/rest/server.php"

#: Functions the sync needs; :meth:`MoodleClient.check_connection` reports any the token's service lacks.
REQUIRED_FUNCTIONS = (
    "core_webservice_get_site_info",
    "core_course_get_courses",
    "core_course_get_courses_by_field",
    "core_enrol_get_enrolled_users",
    "core_completion_get_course_completion_status",
)
#: Needed only when competencies are read (``config["competencies"]``, on by default).
COMPETENCY_FUNCTIONS = (
    "core_competency_list_course_competencies",
    "tool_lp_data_for_user_competency_summary_in_course",
)


def flatten_params(params: Mapping[Any, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested dicts/lists into PHP form fields, as Moodle's REST server expects.

    ``{"options": {"ids": [2, 3]}}`` -> ``[("options[ids][0]", "2"), ("options[ids][1]", "3")]``;
    booleans become ``"1"``/``"0"``; ``None`` values are left out (Moodle then uses the default).
    """
    fields: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            fields.extend(flatten_params(value, name))
        elif isinstance(value, list | tuple):
            fields.extend(flatten_params(dict(enumerate(value)), name))
        elif isinstance(value, bool):
            fields.append((name, "1" if value else "0"))
        else:
            fields.append((name, str(value)))
    return fields


@dataclass(frozen=True)
class SiteInfo:
    """``core_webservice_get_site_info``: who the token belongs to and what it may call."""

    sitename: str
    siteurl: str
    release: str
    version: str
    userid: int
    username: str
    functions: frozenset[str]


@dataclass(frozen=True)
class Course:
    """A course as ``core_course_get_courses[_by_field]`` returns it (the fields the bridge uses)."""

    id: int
    shortname: str
    fullname: str
    idnumber: str
    enablecompletion: bool


@dataclass(frozen=True)
class EnrolledUser:
    """An entry of ``core_enrol_get_enrolled_users``. ``email``/``idnumber`` are None when the site
    hides them from the token's user (``showuseridentity``, ``moodle/course:useremail``)."""

    id: int
    fullname: str
    firstname: str | None = None
    lastname: str | None = None
    email: str | None = None
    idnumber: str | None = None


@dataclass(frozen=True)
class CompletionCriterion:
    """One row of ``completionstatus.completions``; ``timecompleted`` is Unix seconds or None."""

    type: int
    title: str
    complete: bool
    timecompleted: int | None


@dataclass(frozen=True)
class CompletionStatus:
    """``core_completion_get_course_completion_status``.

    ``completed`` is the course-level flag and is authoritative: it can be true while every criterion
    says incomplete (a teacher marked the course complete directly; recorded from Moodle 5.1). Moodle
    does not return the course completion time; :attr:`timecompleted` is the latest criterion time,
    or None.
    """

    completed: bool
    aggregation: int
    criteria: tuple[CompletionCriterion, ...]

    @property
    def timecompleted(self) -> int | None:
        times = [c.timecompleted for c in self.criteria if c.timecompleted]
        return max(times) if times else None


@dataclass(frozen=True)
class Competency:
    """A competency (``core_competency`` persistent): ``idnumber`` is the key outcomes are mapped by."""

    id: int
    idnumber: str
    shortname: str
    frameworkid: int


@dataclass(frozen=True)
class UserCompetencyInCourse:
    """A learner's rating of one competency in one course (``usercompetencycourse``).

    ``proficiency`` is None while unrated; ``grade`` is the scale value or None.
    """

    competency: Competency
    userid: int
    courseid: int
    proficiency: bool | None
    grade: int | None


class _RetryableHTTP(Exception):
    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")
        self.status = status


def _competency(data: Mapping[str, Any]) -> Competency:
    return Competency(
        id=int(data["id"]),
        idnumber=str(data.get("idnumber") or ""),
        shortname=str(data.get("shortname") or ""),
        frameworkid=int(data.get("competencyframeworkid") or 0),
    )


def _course(data: Mapping[str, Any]) -> Course:
    return Course(
        id=int(data["id"]),
        shortname=str(data.get("shortname") or ""),
        fullname=str(data.get("fullname") or ""),
        idnumber=str(data.get("idnumber") or ""),
        enablecompletion=bool(data.get("enablecompletion", 0)),
    )


class MoodleClient:
    """Moodle REST client for one site and one web-service token.

    Args:
        site_url: the site's ``wwwroot``, e.g. ``https://moodle.example.edu`` (trailing ``/`` dropped).
        token: the web-service token (never logged).
        timeout: (connect, read) timeouts in seconds.
        attempts: tries per call on network errors / HTTP 5xx (1 = no retry).
        backoff: first backoff in seconds; doubles per retry with jitter, capped at 30 s.
        session: a ``requests.Session`` to reuse (connection pooling); one is made if None.

    Raises (from every call): :class:`~moodle_bridge.errors.MoodleError` subclasses only.
    """

    def __init__(
        self,
        site_url: str,
        token: str,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        attempts: int = 4,
        backoff: float = 0.5,
        session: requests.Session | None = None,
    ):
        self.site_url = site_url.rstrip("/")
        self.endpoint = self.site_url + REST_PATH
        self._token = token
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._session = session or requests.Session()

    def __repr__(self) -> str:  # no token in reprs, tracebacks or logs
        return f"MoodleClient({self.site_url!r})"

    def close(self) -> None:
        self._session.close()

    # -- transport -----------------------------------------------------------------------------------

    def call(self, wsfunction: str, **params: Any) -> Any:
        """Call ``wsfunction`` with ``params``; return the decoded JSON result.

        Raises:
            MoodleUnavailable: network error, timeout or HTTP 5xx on every attempt.
            MoodleProtocolError: another HTTP status, or a body that is not JSON.
            MoodleError (subclass by errorcode): Moodle's error body.
        """
        fields = [("wstoken", self._token), ("wsfunction", wsfunction), ("moodlewsrestformat", "json")]
        fields += flatten_params(params)
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._backoff, max=30) + wait_random(0, self._backoff),
            retry=retry_if_exception_type((requests.ConnectionError, requests.Timeout, _RetryableHTTP)),
            before_sleep=lambda rs: log.warning(
                "moodle call retrying",
                extra={"site": self.site_url, "wsfunction": wsfunction, "attempt": rs.attempt_number},
            ),
            reraise=True,
        )
        try:
            response = retrying(self._post, fields)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise MoodleUnavailable(
                _l(
                    "%(function)s: %(site)s did not answer (%(error)s)",
                    function=wsfunction,
                    site=self.site_url,
                    error=type(exc).__name__,
                ),
                wsfunction=wsfunction,
            ) from None
        except _RetryableHTTP as exc:
            raise MoodleUnavailable(
                _l(
                    "%(function)s: %(site)s answered HTTP %(status)s",
                    function=wsfunction,
                    site=self.site_url,
                    status=exc.status,
                ),
                wsfunction=wsfunction,
            ) from None
        except requests.RequestException as exc:
            raise MoodleProtocolError(
                _l("%(function)s: %(message)s", function=wsfunction, message=type(exc).__name__), wsfunction=wsfunction
            ) from None
        if response.status_code != 200:
            raise MoodleProtocolError(
                _l(
                    "%(function)s: HTTP %(status)s from %(endpoint)s (wrong site URL, or web services or the REST "
                    "protocol disabled?)",
                    function=wsfunction,
                    status=response.status_code,
                    endpoint=self.endpoint,
                ),
                wsfunction=wsfunction,
            )
        try:
            body = response.json()
        except ValueError:
            raise MoodleProtocolError(
                _l("%(function)s: the answer is not JSON (is the REST protocol enabled?)", function=wsfunction),
                wsfunction=wsfunction,
            ) from None
        if is_error_body(body):
            raise error_from_body(body, wsfunction)
        if isinstance(body, dict) and body.get("warnings"):
            log.info("moodle warnings", extra={"wsfunction": wsfunction, "warnings": body["warnings"]})
        return body

    def _post(self, fields: list[tuple[str, str]]) -> requests.Response:
        response = self._session.post(self.endpoint, data=fields, timeout=self._timeout)
        if response.status_code >= 500:
            raise _RetryableHTTP(response.status_code)
        return response

    # -- functions -------------------------------------------------------------------------------------

    def get_site_info(self) -> SiteInfo:
        """``core_webservice_get_site_info`` (no capability needed beyond the service)."""
        data = self.call("core_webservice_get_site_info")
        return SiteInfo(
            sitename=str(data.get("sitename", "")),
            siteurl=str(data.get("siteurl", "")).rstrip("/"),
            release=str(data.get("release", "")),
            version=str(data.get("version", "")),
            userid=int(data["userid"]),
            username=str(data.get("username", "")),
            functions=frozenset(f["name"] for f in data.get("functions", [])),
        )

    def check_connection(self, *, competencies: bool = True) -> SiteInfo:
        """Check the token works and its service offers every function the sync uses.

        Raises:
            MoodleAccessDenied: ``missing`` lists functions absent from the token's service.
            MoodleInvalidToken / MoodleUnavailable / ...: as :meth:`call`.
        """
        info = self.get_site_info()
        needed = REQUIRED_FUNCTIONS + (COMPETENCY_FUNCTIONS if competencies else ())
        missing = [f for f in needed if f not in info.functions]
        if missing:
            raise MoodleAccessDenied(
                _l("the web service of this token lacks: %(functions)s", functions=joined(missing)), missing=missing
            )
        return info

    def get_courses(self, ids: Iterable[int]) -> list[Course]:
        """``core_course_get_courses`` with ``options[ids]``; unknown ids are silently absent."""
        data = self.call("core_course_get_courses", options={"ids": [int(i) for i in ids]})
        return [_course(c) for c in data]

    def get_courses_by_field(self, field: str, value: str | int) -> list[Course]:
        """``core_course_get_courses_by_field`` (field: id, ids, shortname, idnumber, category)."""
        data = self.call("core_course_get_courses_by_field", field=field, value=value)
        return [_course(c) for c in data.get("courses", [])]

    def get_enrolled_users(
        self,
        course_id: int,
        *,
        limitfrom: int = 0,
        limitnumber: int = 0,
        withcapability: str | None = None,
        userfields: Iterable[str] = ("id", "fullname", "firstname", "lastname", "email", "idnumber"),
    ) -> list[EnrolledUser]:
        """One page of ``core_enrol_get_enrolled_users``, ordered by user id ascending (Moodle's default).

        ``limitnumber=0`` means all. ``withcapability`` filters to users holding it (needs
        ``moodle/role:review``); the sync asks for ``moodle/course:isincompletionreports``, i.e. the
        users Moodle tracks for completion.
        """
        options = [
            {"name": "limitfrom", "value": limitfrom},
            {"name": "limitnumber", "value": limitnumber},
            # Explicit, because offset paging is only stable over a stable order.
            {"name": "sortby", "value": "id"},
            {"name": "sortdirection", "value": "ASC"},
        ]
        if withcapability:
            options.append({"name": "withcapability", "value": withcapability})
        fields = list(userfields)
        if fields:
            options.append({"name": "userfields", "value": ",".join(fields)})
        data = self.call("core_enrol_get_enrolled_users", courseid=int(course_id), options=options)
        return [
            EnrolledUser(
                id=int(u["id"]),
                fullname=str(u.get("fullname") or ""),
                firstname=u.get("firstname"),
                lastname=u.get("lastname"),
                email=u.get("email") or None,
                idnumber=u.get("idnumber") or None,
            )
            for u in data
        ]

    def get_course_completion_status(self, course_id: int, user_id: int) -> CompletionStatus:
        """``core_completion_get_course_completion_status`` for one learner.

        Raises:
            MoodleNotEnrolled: the user is not tracked in the course.
            MoodleNoCompletionCriteria: the course has no completion criteria.
        """
        data = self.call("core_completion_get_course_completion_status", courseid=int(course_id), userid=int(user_id))
        status = data["completionstatus"]
        return CompletionStatus(
            completed=bool(status["completed"]),
            aggregation=int(status.get("aggregation") or 0),
            criteria=tuple(
                CompletionCriterion(
                    type=int(c.get("type") or 0),
                    title=str(c.get("title") or ""),
                    complete=bool(c.get("complete")),
                    timecompleted=int(c["timecompleted"]) if c.get("timecompleted") else None,
                )
                for c in status.get("completions", [])
            ),
        )

    def list_course_competencies(self, course_id: int) -> list[Competency]:
        """``core_competency_list_course_competencies`` (``moodle/competency:coursecompetencyview``).

        Raises:
            MoodleCompetenciesDisabled: competencies are off on the site.
        """
        data = self.call("core_competency_list_course_competencies", id=int(course_id))
        return [_competency(row["competency"]) for row in data]

    def get_user_competency_in_course(self, course_id: int, user_id: int, competency_id: int) -> UserCompetencyInCourse:
        """``tool_lp_data_for_user_competency_summary_in_course``: a learner's rating in a course.

        Moodle creates the (unrated) record on first read, so ``proficiency`` None means "not rated".
        """
        data = self.call(
            "tool_lp_data_for_user_competency_summary_in_course",
            userid=int(user_id),
            competencyid=int(competency_id),
            courseid=int(course_id),
        )
        summary = data["usercompetencysummary"]
        rating = summary.get("usercompetencycourse") or {}
        proficiency = rating.get("proficiency")
        grade = rating.get("grade")
        return UserCompetencyInCourse(
            competency=_competency(summary["competency"]["competency"]),
            userid=int(user_id),
            courseid=int(course_id),
            proficiency=None if proficiency is None else bool(proficiency),
            grade=None if grade is None else int(grade),
        )


__all__ = [
    "COMPETENCY_FUNCTIONS",
    "REQUIRED_FUNCTIONS",
    "CompletionCriterion",
    "CompletionStatus",
    "Competency",
    "Course",
    "EnrolledUser",
    "MoodleClient",
    "MoodleError",
    "SiteInfo",
    "UserCompetencyInCourse",
    "flatten_params",
]
