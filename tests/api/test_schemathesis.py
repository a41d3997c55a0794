"""A schemathesis run over the whole API, as admin and as a maintenance firm:
no server error and no response that breaks the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import checks

Headers = dict[str, str]
# The stream never ends by design; tests/api/test_stream.py covers it.
SKIPPED_PATHS = {"/alerts/stream"}
EXAMPLES_PER_OPERATION = 10
# A request can match the schema and still be refused for reasons a schema
# cannot state (a grant that makes no sense, a window that ends before it
# starts, an inspection of unknown equipment): 422 is then right, not a bug.
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
    for op in ops:

        @hypothesis.given(case=op.as_strategy())
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
                base_url=api_url, headers=headers, excluded_checks=EXCLUDED_CHECKS
            )

        try:
            check()
        except Exception as exc:  # collected so one run reports every operation
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    assert not failures, "\n\n".join(failures)
