"""Error answers are problem details in the reader's language: `title` and
`detail` from the catalogs (api.po) per Accept-Language, zh-CN by default;
validation errors keep FastAPI's list with `loc` (the field names) as they
are and `msg` translated. Every HTTPException the API raises carries a
catalog message, so no refusal is English-only."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.api.world import World, build_world

Headers = dict[str, str]
EN = {"Accept-Language": "en"}
API = Path(__file__).resolve().parents[2] / "api"


@pytest.fixture(scope="module")
def world(api_url: str, admin_headers: Headers, database_url: str) -> World:
    return build_world(api_url, admin_headers, database_url, "prob")


def test_not_found_and_conflict_in_both_languages(
    api_url: str, world: World, token_for: Callable[..., Headers]
) -> None:
    headers = token_for("dispatcher", world.a.district)
    url = f"{api_url}/alerts/al_nope/ack"
    zh = httpx.post(url, json={"by": "d"}, headers=headers)
    en = httpx.post(url, json={"by": "d"}, headers={**headers, **EN})
    assert zh.status_code == en.status_code == 404
    assert zh.json() == {
        "type": "about:blank",
        "title": "未找到",
        "status": 404,
        "detail": "未找到该警报",
    }
    assert en.json()["title"] == "Not found" and en.json()["detail"] == "alert not found"

    alert_id = world.a.alerts[0]
    assert httpx.post(f"{api_url}/alerts/{alert_id}/ack", json={"by": "d"}, headers=headers)
    again = httpx.post(
        f"{api_url}/alerts/{alert_id}/ack", json={"by": "d"}, headers={**headers, **EN}
    )
    assert again.status_code == 409
    assert again.json()["detail"] == f"alert {alert_id} is acknowledged: ack is not allowed"
    again = httpx.post(f"{api_url}/alerts/{alert_id}/ack", json={"by": "d"}, headers=headers)
    assert again.json()["title"] == "状态冲突"
    assert again.json()["detail"] == f"警报 {alert_id} 处于“已确认”状态，不能执行 ack"


def test_validation_messages_translated_field_names_kept(
    api_url: str, admin_headers: Headers
) -> None:
    params = {"limit": "0", "state": "lost"}
    zh = httpx.get(f"{api_url}/alerts", params=params, headers=admin_headers)
    en = httpx.get(f"{api_url}/alerts", params=params, headers={**admin_headers, **EN})
    assert zh.status_code == en.status_code == 422
    assert (
        zh.json()["title"] == "请求内容无法处理" and en.json()["title"] == "Unprocessable content"
    )
    by_field = {tuple(e["loc"]): e["msg"] for e in zh.json()["detail"]}
    assert by_field[("query", "limit")] == "应大于或等于 1"
    assert by_field[("query", "state")].startswith("应为 ")
    by_field = {tuple(e["loc"]): e["msg"] for e in en.json()["detail"]}
    assert by_field[("query", "limit")] == "Input should be greater than or equal to 1"
    assert by_field[("query", "state")].startswith("Input should be ")


def test_auth_and_unknown_paths(api_url: str) -> None:
    r = httpx.get(f"{api_url}/alerts")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.headers["vary"] == "Accept-Language"  # answers differ by language: caches know
    assert r.json()["title"] == "未认证" and r.json()["detail"] == "缺少 Bearer 令牌"
    r = httpx.get(f"{api_url}/alerts", headers={"Authorization": "Bearer nope", **EN})
    assert r.json()["detail"] == "invalid or revoked token"
    # Starlette's own 404 for a path no route has: the title, translated.
    r = httpx.get(f"{api_url}/no/such/path", headers=EN)
    assert r.status_code == 404 and r.json()["detail"] == "Not found"
    assert httpx.get(f"{api_url}/no/such/path").json()["detail"] == "未找到"


def _detail_is_a_catalog_message(call: ast.Call) -> bool:
    detail = call.args[1] if len(call.args) > 1 else None
    for kw in call.keywords:
        if kw.arg == "detail":
            detail = kw.value
    if detail is None:
        return True  # the status's title
    if isinstance(detail, ast.Call) and isinstance(detail.func, ast.Name):
        return detail.func.id == "msg"
    return isinstance(detail, ast.Attribute) and detail.attr == "message"  # an error's Message


def test_every_http_exception_carries_a_catalog_message() -> None:
    found: list[str] = []
    calls = 0
    for path in sorted(API.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "HTTPException"
            ):
                calls += 1
                if not _detail_is_a_catalog_message(node):
                    found.append(f"{path.relative_to(API.parent)}:{node.lineno}")
    assert calls > 20  # the scan sees the routes at all
    assert found == [], "HTTPException with text not from the catalogs (use msg(...)):\n" + (
        "\n".join(found)
    )


def test_the_shared_validators_speak_the_readers_language(
    api_url: str, world: World, token_for: Callable[..., Headers]
) -> None:
    """A control character in an action's `by`, refused by the shared
    validators (semon/domain/common.py), is said in the reader's language
    (it was "值错误：text contains a control character" before)."""
    headers = token_for("dispatcher", world.a.district)
    url = f"{api_url}/alerts/{world.a.alerts[-1]}/ack"
    zh = httpx.post(url, json={"by": "a\x01b"}, headers=headers)
    en = httpx.post(url, json={"by": "a\x01b"}, headers={**headers, **EN})
    assert zh.status_code == en.status_code == 422
    [z], [e] = zh.json()["detail"], en.json()["detail"]
    assert z["loc"] == e["loc"] == ["body", "by"]
    assert z["msg"] == "文本含有控制字符（U+0001）", z
    assert e["msg"] == "text contains a control character (U+0001)", e
