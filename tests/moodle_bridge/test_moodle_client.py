"""The REST client against the Moodle 5.1 contract double (recorded shapes, errors with HTTP 200)."""

from __future__ import annotations

import socket

import pytest

from hub.errors import HubError
from moodle_bridge import errors
from moodle_bridge.client import MoodleClient, flatten_params


def test_flatten_params_is_php_style():
    assert flatten_params({"options": {"ids": [2, 3]}, "flag": True, "skip": None}) == [
        ("options[ids][0]", "2"),
        ("options[ids][1]", "3"),
        ("flag", "1"),
    ]
    assert flatten_params({"options": [{"name": "limitfrom", "value": 0}]}) == [
        ("options[0][name]", "limitfrom"),
        ("options[0][value]", "0"),
    ]


def test_site_info_and_connection_check(client, fake):
    info = client.check_connection()
    assert info.release.startswith("5.1")
    assert info.userid == 2
    assert info.siteurl == fake.site_url
    assert "core_completion_get_course_completion_status" in info.functions


def test_connection_check_names_missing_functions(client, fake):
    fake.rec["ws_site_info"]["response"]["functions"] = [
        f for f in fake.rec["ws_site_info"]["response"]["functions"] if f["name"] != "core_enrol_get_enrolled_users"
    ]
    with pytest.raises(errors.MoodleAccessDenied) as info:
        client.check_connection()
    assert info.value.extra["missing"] == ["core_enrol_get_enrolled_users"]


def test_token_goes_in_the_body_not_the_url(client, fake, httpserver):
    client.get_site_info()
    request, _ = httpserver.log[-1]
    assert "good-token" not in request.url
    assert request.form["wstoken"] == "good-token"
    assert request.form["moodlewsrestformat"] == "json"
    assert "good-token" not in repr(client)


def test_courses(client):
    (course,) = client.get_courses([2, 999])
    assert (course.id, course.shortname, course.idnumber, course.enablecompletion) == (
        2,
        "SEC101",
        "SEC-101",
        True,
    )
    assert client.get_courses_by_field("idnumber", "SEC-101")[0].fullname == "Bezpieczeństwo w sieci"
    assert client.get_courses_by_field("idnumber", "NOPE") == []


def test_enrolled_users_pages_and_filters(client, fake):
    fake.add_students(2, 10)
    everyone = client.get_enrolled_users(2, withcapability=None)
    assert [u.id for u in everyone][:4] == [3, 4, 5, 6]
    students = client.get_enrolled_users(2, withcapability="moodle/course:isincompletionreports")
    assert 3 not in {u.id for u in students}  # the teacher is not tracked for completion
    first = client.get_enrolled_users(2, limitfrom=0, limitnumber=5)
    second = client.get_enrolled_users(2, limitfrom=5, limitnumber=5)
    assert [u.id for u in first + second] == [u.id for u in everyone[:10]]
    lukasz = next(u for u in everyone if u.id == 4)
    assert (lukasz.email, lukasz.fullname, lukasz.idnumber) == (
        "Lukasz.Wojcik@Example.org",
        "Łukasz Wójcik",
        "S-001",
    )


def test_completion_status_recorded_disagreement(client):
    # Recorded: course flag complete while the self-completion criterion says incomplete.
    status = client.get_course_completion_status(2, 4)
    assert status.completed is True
    assert [c.complete for c in status.criteria] == [False]
    assert status.timecompleted is None
    assert client.get_course_completion_status(2, 5).completed is False


def test_competencies(client, fake):
    fake.proficient.add((4, 2))
    comps = client.list_course_competencies(2)
    assert [c.idnumber for c in comps] == ["esco:0d6f1a2e-skill-test-1", "esco:1c2b3a4d-skill-test-2"]
    rated = client.get_user_competency_in_course(2, 4, 2)
    assert rated.proficiency is True and rated.competency.idnumber == "esco:1c2b3a4d-skill-test-2"
    assert client.get_user_competency_in_course(2, 4, 1).proficiency is None


@pytest.mark.parametrize(
    ("call", "expected", "errorcode"),
    [
        (lambda c: c.get_course_completion_status(2, 2), errors.MoodleNotEnrolled, "notenroled"),
        (lambda c: c.get_course_completion_status(2, 3), errors.MoodleNotEnrolled, "usernotenroled"),
        (
            lambda c: c.call("core_completion_get_course_completion_status", courseid="abc", userid=4),
            errors.MoodleInvalidParameter,
            "invalidparameter",
        ),
        (lambda c: c.call("core_user_create_users"), errors.MoodleAccessDenied, "accessexception"),
    ],
)
def test_moodle_errors_arrive_with_200_and_become_typed(client, call, expected, errorcode):
    with pytest.raises(expected) as info:
        call(client)
    assert isinstance(info.value, HubError)
    assert info.value.errorcode == errorcode


def test_no_completion_criteria(client, fake):
    fake.no_criteria.add(2)
    with pytest.raises(errors.MoodleNoCompletionCriteria):
        client.get_course_completion_status(2, 4)


def test_invalid_token(fake):
    with pytest.raises(errors.MoodleInvalidToken) as info:
        MoodleClient(fake.site_url, "wrong", backoff=0).get_site_info()
    assert "Invalid token" in info.value.detail and "wrong" not in info.value.detail


@pytest.mark.parametrize("debug", [False, True])
def test_expired_token_is_reported_once_then_invalid(fake, debug):
    fake.debug = debug
    fake.tokens["old-token"] = {"expired": True}
    c = MoodleClient(fake.site_url, "old-token", backoff=0)
    # Moodle deletes an expired token and answers webservice_access_exception once; the message only
    # says "expired" when the site runs with developer debugging.
    with pytest.raises(errors.MoodleTokenExpired if debug else errors.MoodleAccessDenied):
        c.get_site_info()
    with pytest.raises(errors.MoodleInvalidToken):
        c.get_site_info()


def test_5xx_is_retried_then_succeeds(client, fake):
    fake.fail_next = [503, 502]
    assert client.get_site_info().userid == 2
    assert fake.count("core_webservice_get_site_info") == 1  # the failures never reached Moodle's code


def test_5xx_exhausting_retries_is_unavailable(client, fake):
    fake.fail_next = [503, 503, 503]
    with pytest.raises(errors.MoodleUnavailable) as info:
        client.get_site_info()
    assert info.value.status == 504


def test_network_error_is_unavailable_after_retries():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = MoodleClient(f"http://127.0.0.1:{port}", "t", attempts=2, backoff=0, timeout=(1, 1))
    with pytest.raises(errors.MoodleUnavailable):
        c.get_site_info()


def test_html_or_404_is_a_protocol_error(fake, httpserver):
    httpserver.expect_request("/wrong/webservice/rest/server.php").respond_with_data("Not found", status=404)
    with pytest.raises(errors.MoodleProtocolError):
        MoodleClient(fake.site_url + "/wrong", "good-token", backoff=0).get_site_info()
    httpserver.expect_request("/html/webservice/rest/server.php").respond_with_data("<html>login</html>")
    with pytest.raises(errors.MoodleProtocolError):
        MoodleClient(fake.site_url + "/html", "good-token", backoff=0).get_site_info()
