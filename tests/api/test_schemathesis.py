"""A schemathesis run over the whole API, as admin and as a maintenance firm,
with every check (`--checks all`) on requests valid by the schema and on
requests that break it: no server error, no response that breaks the OpenAPI
document, no status it does not list, schema-breaking requests refused and
schema-valid ones accepted.

One rule stands in for the built-in `positive_data_acceptance`: a request
the schema allows may still be refused for what a schema cannot state (a
window longer than allowed, `from` after `to`, an elevator the registry does
not have, a cursor this API did not hand out). The API then answers 422 with
`detail` as one sentence (documented on every route). A 422 that lists fields
(`detail` as a list) is pydantic refusing what the document accepted: a bug
in the document, and a failure here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from schemathesis import checks

Headers = dict[str, str]
# The stream never ends by design; tests/api/test_stream.py covers it.
SKIPPED_PATHS = {"/alerts/stream"}
EXAMPLES_PER_OPERATION = 6
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
# `--checks all`: every built-in check (taken before ours registers).
ALL_CHECKS = list(checks.CHECKS.get_all())
# Statuses that accept a schema-valid request, as the built-in check has them.
ACCEPTING = {401, 403, 404, 409, 429}


@schemathesis.check
def schema_valid_is_accepted(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """`positive_data_acceptance`, but a 422 whose `detail` is a sentence is
    a refusal by the data (see the module docstring), not by the schema."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    code = response.status_code
    if code < 400 or code in ACCEPTING or code >= 500:  # 5xx: not_a_server_error's
        return None
    if code == 422:
        detail = response.json().get("detail")
        if isinstance(detail, str):
            return None
    raise AssertionError(f"schema-valid request refused: {code} {response.text[:500]}")


EXCLUDED_CHECKS = [checks.positive_data_acceptance]


def operations(api_url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    found = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path not in SKIPPED_PATHS:
            found.append(op)
    return found


@pytest.mark.parametrize("role", ["admin", "maintenance"])
def test_whole_api_conforms(
    api_url: str, admin_headers: Headers, token_for: Callable[..., Headers], role: str
) -> None:
    headers = admin_headers if role == "admin" else token_for("maintenance", "schemathesis-firm")
    failures: list[str] = []
    ops = operations(api_url)
    assert len(ops) >= 15
    for op, mode in [(op, mode) for op in ops for mode in MODES]:

        @hypothesis.given(case=op.as_strategy(generation_mode=mode))
        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=api_url,
                headers=headers,
                checks=ALL_CHECKS,
                additional_checks=[schema_valid_is_accepted],
                excluded_checks=EXCLUDED_CHECKS,
            )

        try:
            check()
        except hypothesis.errors.Unsatisfiable:
            # No parameter or body to break (`/healthz`): nothing negative to send.
            assert mode == schemathesis.GenerationMode.NEGATIVE, op.path
        except (Exception, BaseExceptionGroup) as exc:  # every operation reported in one run
            failures.append(f"{op.method.upper()} {op.path} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def test_a_405_names_every_method_of_the_path(api_url: str, admin_headers: Headers) -> None:
    """`GET /tokens` and `POST /tokens` are two routes: Allow names both."""
    r = httpx.request("OPTIONS", f"{api_url}/tokens", headers=admin_headers)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST"
    r = httpx.delete(f"{api_url}/alerts", headers=admin_headers)
    assert r.headers["allow"] == "GET"
