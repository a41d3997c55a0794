"""The access matrix: every route with an object id x (own, foreign, missing,
malformed) x every role, and every list route checked for foreign items."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.api.world import World, build_world

Headers = dict[str, str]
ROLES = ("admin", "dispatcher", "maintenance", "regulator", "station")


@pytest.fixture(scope="module")
def world(api_url: str, admin_headers: Headers, database_url: str) -> World:
    return build_world(api_url, admin_headers, database_url, "acc")


@pytest.fixture(scope="module")
def tokens(
    world: World, token_for: Callable[..., Headers], admin_headers: Headers
) -> dict[str, Headers]:
    a = world.a
    return {
        "admin": admin_headers,
        "dispatcher": token_for("dispatcher", a.district),
        "maintenance": token_for("maintenance", a.firm),
        "regulator": token_for("regulator", a.district),
        "station": token_for("station", a.station),
    }


# (route template, kind of object, method, roles allowed to use the route at all)
ID_ROUTES = [
    ("/elevators/{}", "elevator", "GET", set(ROLES)),
    (
        "/elevators/{}/history?from=2026-11-21T07:00:00Z&to=2026-11-21T10:00:00Z",
        "elevator",
        "GET",
        set(ROLES),
    ),
    ("/elevators/{}/score", "elevator", "GET", {"admin", "maintenance", "regulator"}),
    ("/cylinders/{}/trace", "cylinder", "GET", set(ROLES)),
    ("/alerts/{}/ack", "alert", "POST", {"admin", "dispatcher", "maintenance"}),
]

# Routes (written by another part) that answer a malformed id 404 rather than 422.
LENIENT_MALFORMED = {"/elevators/{}/score"}


def own_object(world: World, role: str, kind: str) -> str | None:
    """The id this role may see of this kind, or None when it may see none."""
    a = world.a
    sees = {
        "elevator": {"admin", "dispatcher", "maintenance", "regulator"},
        "cylinder": {"admin", "dispatcher", "regulator", "station"},
    }
    if kind == "alert":
        return {"admin": a.alerts[0], "dispatcher": a.alerts[0], "maintenance": a.alerts[0]}.get(
            role
        )
    return (a.elevator if kind == "elevator" else a.cylinder) if role in sees[kind] else None


def foreign_object(world: World, kind: str) -> str:
    b = world.b
    return {"elevator": b.elevator, "cylinder": b.cylinder, "alert": b.alerts[0]}[kind]


def call(api_url: str, method: str, path: str, headers: Headers) -> httpx.Response:
    body = {"by": "tester", "note": "matrix"} if method == "POST" else None
    return httpx.request(method, f"{api_url}{path}", headers=headers, json=body, timeout=30)


@pytest.mark.parametrize("route,kind,method,allowed", ID_ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_object_routes(
    api_url: str,
    world: World,
    tokens: dict[str, Headers],
    role: str,
    route: str,
    kind: str,
    method: str,
    allowed: set[str],
) -> None:
    headers = tokens[role]
    cases: dict[str, tuple[str, int]] = {}
    own = own_object(world, role, kind)
    if role not in allowed:
        expected_for = dict.fromkeys(("own", "foreign", "missing", "malformed"), 403)
    else:
        expected_for = {"own": 200, "foreign": 404, "missing": 404, "malformed": 422}
    if own is not None:
        cases["own"] = (own, expected_for["own"])
    if role != "admin":  # the admin's scope is everything: nothing is foreign to it
        cases["foreign"] = (foreign_object(world, kind), expected_for["foreign"])
    cases["missing"] = (f"{world.uid}-nothing-here", expected_for["missing"])
    cases["malformed"] = ("bad%20id%21", expected_for["malformed"])
    for case, (ident, expected) in cases.items():
        r = call(api_url, method, route.format(ident), headers)
        # The alert was acknowledged by an earlier role: 409 proves it was found in scope.
        ok = {expected, 409} if (case == "own" and method == "POST") else {expected}
        if case == "malformed" and expected == 422 and route in LENIENT_MALFORMED:
            ok.add(404)  # the id is not validated by pattern there: still nothing leaks
        assert r.status_code in ok, (role, route, case, r.status_code, r.text)
        assert call(api_url, method, route.format(ident), {}).status_code == 401
        bad = {"Authorization": "Bearer semon_not_a_token"}
        assert call(api_url, method, route.format(ident), bad).status_code == 401
    # An object that is out of scope answers exactly as one that does not exist.
    if "foreign" in cases and expected_for["foreign"] == 404:
        foreign = call(api_url, method, route.format(cases["foreign"][0]), headers)
        missing = call(api_url, method, route.format(cases["missing"][0]), headers)
        assert foreign.json()["detail"] == missing.json()["detail"]


def _alert_visible(role: str, world: World, item: dict[str, object]) -> bool:
    a = world.a
    if role == "admin":
        return True
    if role in ("dispatcher", "regulator"):
        return item["district"] == a.district
    if role == "maintenance":
        return item["firm_id"] == a.firm
    return item["station_id"] == a.station or item["equipment_id"] == a.cylinder


@pytest.mark.parametrize("role", ROLES)
def test_alert_list_holds_nothing_foreign(
    api_url: str, world: World, tokens: dict[str, Headers], role: str
) -> None:
    seen: list[dict[str, object]] = []
    url = f"{api_url}/alerts?limit=50"
    cursor = None
    for _ in range(200):
        r = httpx.get(url + (f"&cursor={cursor}" if cursor else ""), headers=tokens[role])
        assert r.status_code == 200, r.text
        page = r.json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = {i["alert_id"] for i in seen}
    assert all(_alert_visible(role, world, i) for i in seen), role
    for alert_id in world.b.alerts:
        assert (alert_id in ids) == (role == "admin")
    own_expected = {
        "admin": set(world.a.alerts),
        "dispatcher": set(world.a.alerts),
        "regulator": set(world.a.alerts),
        "maintenance": {world.a.alerts[0]},
        "station": {world.a.alerts[1]},
    }[role]
    assert own_expected <= ids


@pytest.mark.parametrize("role", ROLES)
def test_admin_only_routes(api_url: str, tokens: dict[str, Headers], role: str) -> None:
    expected = 200 if role == "admin" else 403
    assert httpx.get(f"{api_url}/tokens", headers=tokens[role]).status_code == expected
    r = httpx.post(
        f"{api_url}/registry/firms",
        headers=tokens[role],
        json=[{"firm_id": "acc-x", "name": "x", "credit_grade": "A", "tech_level": 1}],
    )
    assert r.status_code == expected
    r = httpx.delete(f"{api_url}/tokens/tok_missing", headers=tokens[role])
    assert r.status_code == (404 if role == "admin" else 403)


def test_revoked_token_is_refused_at_once(api_url: str, admin_headers: Headers) -> None:
    r = httpx.post(
        f"{api_url}/tokens", headers=admin_headers, json={"role": "regulator", "scope": []}
    )
    issued = r.json()
    headers = {"Authorization": f"Bearer {issued['secret']}"}
    assert httpx.get(f"{api_url}/alerts", headers=headers).status_code == 200
    assert (
        httpx.delete(f"{api_url}/tokens/{issued['token_id']}", headers=admin_headers).status_code
        == 204
    )
    assert httpx.get(f"{api_url}/alerts", headers=headers).status_code == 401
    listed = httpx.get(f"{api_url}/tokens", headers=admin_headers).json()
    assert all("secret" not in t for t in listed)


def test_token_grants_are_checked(api_url: str, admin_headers: Headers) -> None:
    for bad in (
        {"role": "maintenance", "scope": []},
        {"role": "station", "scope": ["a", "b"]},
        {"role": "admin", "scope": ["d1"]},
        {"role": "root", "scope": []},
    ):
        assert (
            httpx.post(f"{api_url}/tokens", headers=admin_headers, json=bad).status_code == 422
        ), bad


@pytest.mark.parametrize(
    ("role", "field"),
    [
        ("maintenance", "firm"),
        ("station", "station"),
        ("dispatcher", "district"),
        ("regulator", "district"),
    ],
)
def test_a_token_scope_must_name_something_in_the_registry(
    api_url: str, admin_headers: Headers, world: World, role: str, field: str
) -> None:
    known = getattr(world.a, field)
    typo = known + "-typo"
    scope = [known, typo] if role in ("dispatcher", "regulator") else [typo]
    english = {**admin_headers, "Accept-Language": "en"}
    r = httpx.post(f"{api_url}/tokens", headers=english, json={"role": role, "scope": scope})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith(f"scope: no {field} '{typo}' in the registry"), detail
    assert detail.endswith("(allow_unknown_scope issues it anyway)"), detail
    assert known + "'" not in detail
    # The same refusal for a Chinese reader (the platform's default).
    r = httpx.post(f"{api_url}/tokens", headers=admin_headers, json={"role": role, "scope": scope})
    assert r.json()["detail"].startswith("范围：登记信息中没有"), r.text
    assert f"'{typo}'" in r.json()["detail"]
    # Asked to, it is issued; and a scope the registry knows needs no asking.
    for body in (
        {"role": role, "scope": scope, "allow_unknown_scope": True},
        {"role": role, "scope": [known]},
    ):
        r = httpx.post(f"{api_url}/tokens", headers=admin_headers, json=body)
        assert r.status_code == 201, (body, r.text)
        assert r.json()["scope"] == body["scope"]
