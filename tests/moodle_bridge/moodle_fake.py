"""A contract double of Moodle's REST server, answering as Moodle 5.1 does.

Every answer is built from the RECORDED responses in ``<shared>/ref/moodle/ws_*.json`` (deep-copied,
with ids, names and flags substituted), and every error is the recorded body with HTTP 200. Two
functions were not recorded and follow Moodle's source instead: ``core_course_get_courses`` (the
recorded course minus the fields only ``get_courses_by_field`` adds) and
``tool_lp_data_for_user_competency_summary_in_course`` (the exporter's key paths; nocriteriaset's
message is Moodle's language string). Parameters are validated like ``external_api`` does: a missing,
unexpected or mistyped one is ``invalidparameter``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from werkzeug.wrappers import Request, Response

REST_PATH = "/webservice/rest/server.php"
TOKEN_USER = 2  # the recorded token belongs to "admin", user id 2


def load_recordings(ref_dir: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(ref_dir.glob("ws_*.json"))}


def unflatten(form) -> dict[str, Any]:
    """``options[0][name]=x`` form fields -> nested dicts/lists, as PHP parses them."""
    root: dict[str, Any] = {}
    for name, value in form.items(multi=True):
        parts = re.findall(r"[^\[\]]+", name)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


class WsError(Exception):
    def __init__(self, body: dict):
        super().__init__(body.get("errorcode"))
        self.body = body


@dataclass
class FakeMoodle:
    """State of the fake site; tests change it (enrol users, complete courses) between calls."""

    rec: dict[str, dict]
    site_url: str = "http://localhost"
    tokens: dict[str, dict] = field(default_factory=lambda: {"good-token": {"expired": False}})
    courses: dict[int, dict] = field(default_factory=dict)
    enrolled: dict[int, list[dict]] = field(default_factory=dict)
    completed: dict[tuple[int, int], int | None] = field(default_factory=dict)
    no_criteria: set[int] = field(default_factory=set)
    competencies: dict[int, list[dict]] = field(default_factory=dict)
    proficient: set[tuple[int, int]] = field(default_factory=set)  # (user id, competency id)
    fail_next: list[int] = field(default_factory=list)  # HTTP statuses to answer before working again
    debug: bool = False
    calls: list[tuple[str, dict]] = field(default_factory=list)

    @classmethod
    def from_recordings(cls, ref_dir: Path) -> FakeMoodle:
        """Seed with the recorded site: course 2 (SEC101), its four users, user 4 complete."""
        rec = load_recordings(ref_dir)
        fake = cls(rec)
        course = rec["ws_courses_by_field"]["response"]["courses"][0]
        fake.courses[course["id"]] = course
        fake.enrolled[course["id"]] = copy.deepcopy(rec["ws_enrolled_users"]["response"])
        fake.completed[(course["id"], 4)] = None
        fake.competencies[course["id"]] = copy.deepcopy(rec["ws_course_competencies"]["response"])
        return fake

    # -- helpers for tests ----------------------------------------------------------------------------

    def add_students(self, course_id: int, count: int, first_id: int = 1000) -> list[int]:
        """Enrol ``count`` students cloned from the recorded student; returns their ids."""
        template = next(u for u in self.rec["ws_enrolled_users"]["response"] if u["username"] == "student1")
        ids = []
        for i in range(count):
            uid = first_id + i
            user = copy.deepcopy(template)
            user.update(
                id=uid,
                username=f"learner{uid}",
                firstname="Uczeń",
                lastname=f"Nr{uid}",
                fullname=f"Uczeń Nr{uid}",
                email=f"learner{uid}@example.org",
                idnumber=f"S-{uid}",
            )
            self.enrolled.setdefault(course_id, []).append(user)
            ids.append(uid)
        return ids

    def count(self, wsfunction: str, **match) -> int:
        return sum(
            1 for f, p in self.calls if f == wsfunction and all(str(p.get(k)) == str(v) for k, v in match.items())
        )

    # -- the endpoint --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if self.fail_next:
            return Response("<html>Site maintenance</html>", status=self.fail_next.pop(0))
        if request.path != REST_PATH or request.method != "POST":
            return Response("Not found", status=404)
        params = unflatten(request.form)
        token = params.pop("wstoken", None)
        wsfunction = params.pop("wsfunction", None)
        params.pop("moodlewsrestformat", None)
        self.calls.append((wsfunction, params))
        try:
            self._authenticate(token, wsfunction)
            body = getattr(self, wsfunction)(**self._validate(wsfunction, params))
        except WsError as err:
            body = err.body
        # Moodle answers errors with HTTP 200 as well.
        return Response(json.dumps(body, ensure_ascii=False), status=200, mimetype="application/json")

    def _error(self, name: str, **changes) -> WsError:
        body = dict(self.rec[name]["response"], **changes)
        return WsError(body)

    def _authenticate(self, token, wsfunction) -> None:
        entry = self.tokens.get(token)
        if entry is None:
            raise self._error("ws_error_invalid_token")
        if entry["expired"]:
            # webservice/lib.php: an expired token is deleted, reported once as webservice_access_exception.
            del self.tokens[token]
            extra = {"debuginfo": "Invalid token - token expired - check validuntil time for the token"}
            raise self._error("ws_error_function_not_in_service", **(extra if self.debug else {}))
        functions = {f["name"] for f in self.rec["ws_site_info"]["response"]["functions"]}
        if wsfunction not in functions or not hasattr(self, wsfunction):
            raise self._error("ws_error_function_not_in_service")

    SIGNATURES: ClassVar[dict[str, dict[str, type]]] = {
        "core_webservice_get_site_info": {},
        "core_course_get_courses": {"options": dict},
        "core_course_get_courses_by_field": {"field": str, "value": str},
        "core_enrol_get_enrolled_users": {"courseid": int, "options": list},
        "core_completion_get_course_completion_status": {"courseid": int, "userid": int},
        "core_competency_list_course_competencies": {"id": int},
        "tool_lp_data_for_user_competency_summary_in_course": {
            "userid": int,
            "competencyid": int,
            "courseid": int,
        },
    }
    OPTIONAL: ClassVar[dict[str, set[str]]] = {
        "core_course_get_courses": {"options"},
        "core_course_get_courses_by_field": {"field", "value"},
        "core_enrol_get_enrolled_users": {"options"},
    }

    def _validate(self, wsfunction: str, params: dict) -> dict:
        signature = self.SIGNATURES[wsfunction]
        optional = self.OPTIONAL.get(wsfunction, set())
        unexpected = set(params) - set(signature)
        missing = set(signature) - set(params) - optional
        if unexpected or missing:
            raise self._error("ws_error_bad_param")
        out = {}
        for name, value in params.items():
            kind = signature[name]
            if kind is int:
                if not re.fullmatch(r"-?\d+", str(value)):
                    raise self._error("ws_error_bad_param")
                value = int(value)
            elif kind in (dict, list) and not isinstance(value, kind):
                raise self._error("ws_error_bad_param")
            out[name] = value
        return out

    # -- the functions -------------------------------------------------------------------------------

    def core_webservice_get_site_info(self):
        info = copy.deepcopy(self.rec["ws_site_info"]["response"])
        info["siteurl"] = self.site_url
        return info

    def _course_for_get_courses(self, course: dict) -> dict:
        by_field_only = {
            "displayname",
            "courseimage",
            "categoryname",
            "contacts",
            "enrollmentmethods",
            "filters",
            "summaryfiles",
            "overviewfiles",
            "showactivitydates",
            "showcompletionconditions",
            "sortorder",
        }
        return {k: v for k, v in course.items() if k not in by_field_only}

    def core_course_get_courses(self, options=None):
        ids = [int(i) for i in (options or {}).get("ids", [])] or list(self.courses)
        return [self._course_for_get_courses(self.courses[i]) for i in ids if i in self.courses]

    def core_course_get_courses_by_field(self, field="", value=""):
        if field not in ("", "id", "ids", "shortname", "idnumber", "category"):
            raise self._error("ws_error_bad_param")
        courses = [
            c for c in self.courses.values() if not field or str(c.get(field if field != "ids" else "id")) == value
        ]
        return {"courses": copy.deepcopy(courses), "warnings": []}

    def core_enrol_get_enrolled_users(self, courseid, options=()):
        opts = {o["name"]: o["value"] for o in options}
        allowed = {
            "withcapability",
            "groupid",
            "onlyactive",
            "onlysuspended",
            "userfields",
            "limitfrom",
            "limitnumber",
            "sortby",
            "sortdirection",
        }
        if set(opts) - allowed or opts.get("sortby", "id") not in (
            "id",
            "firstname",
            "lastname",
            "siteorder",
        ):
            raise self._error("ws_error_bad_param")
        users = list(self.enrolled.get(courseid, []))
        if opts.get("withcapability") == "moodle/course:isincompletionreports":
            users = [u for u in users if any(r["shortname"] == "student" for r in u["roles"])]
        key = {"siteorder": "id"}.get(opts.get("sortby", "id"), opts.get("sortby", "id"))
        users.sort(key=lambda u: u[key], reverse=opts.get("sortdirection", "ASC").upper() == "DESC")
        start, number = int(opts.get("limitfrom", 0)), int(opts.get("limitnumber", 0))
        users = users[start : start + number] if number else users[start:]
        if "userfields" in opts:
            wanted = {f.strip() for f in opts["userfields"].split(",")} | {"id"}
            users = [{k: v for k, v in u.items() if k in wanted} for u in users]
        return copy.deepcopy(users)

    def _tracked(self, course_id: int, user_id: int) -> bool:
        return any(
            u["id"] == user_id and any(r["shortname"] == "student" for r in u["roles"])
            for u in self.enrolled.get(course_id, [])
        )

    def core_completion_get_course_completion_status(self, courseid, userid):
        if not self._tracked(courseid, userid):
            if userid == TOKEN_USER:
                raise self._error("ws_error_not_enrolled")
            raise self._error("ws_error_no_criteria")  # recorded as usernotenroled (course 1, user 4)
        if courseid in self.no_criteria:
            raise WsError(
                {
                    "exception": "core\\exception\\moodle_exception",
                    "errorcode": "nocriteriaset",
                    "message": "No completion criteria set for this course",
                }
            )
        done = (courseid, userid) in self.completed
        name = "ws_completion_status_complete" if done else "ws_completion_status_incomplete"
        body = copy.deepcopy(self.rec[name]["response"])
        when = self.completed.get((courseid, userid))
        if when:  # completed through the (self-)completion criterion, which then carries the time
            body["completionstatus"]["completions"][0].update(status="Yes", complete=True, timecompleted=when)
        return body

    def core_competency_list_course_competencies(self, id):
        return copy.deepcopy(self.competencies.get(id, []))

    def tool_lp_data_for_user_competency_summary_in_course(self, userid, competencyid, courseid):
        row = next((r for r in self.competencies.get(courseid, []) if r["competency"]["id"] == competencyid), None)
        if row is None or not self._tracked(courseid, userid):
            raise self._error("ws_error_bad_param")
        proficient = (userid, competencyid) in self.proficient
        return {
            "usercompetencysummary": {
                "showrelatedcompetencies": True,
                "cangrade": True,
                "cansuggest": False,
                "cangradeorsuggest": True,
                "competency": {
                    "competency": copy.deepcopy(row["competency"]),
                    "linkedcourses": [],
                    "relatedcompetencies": [],
                    "framework": {"id": row["competency"]["competencyframeworkid"]},
                },
                "user": {"id": userid},
                "usercompetencycourse": {
                    "userid": userid,
                    "courseid": courseid,
                    "competencyid": competencyid,
                    "proficiency": True if proficient else None,
                    "grade": 2 if proficient else None,
                    "gradename": "Competent" if proficient else "-",
                    "proficiencyname": "Yes" if proficient else "-",
                    "id": 1,
                    "timecreated": 1795936500,
                    "timemodified": 1795936500,
                    "usermodified": 2,
                },
                "evidence": [],
            },
            "course": {"id": courseid},
            "coursemodules": [],
        }
