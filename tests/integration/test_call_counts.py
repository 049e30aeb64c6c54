"""The event paths cost what they must: EC2 calls per path and case, pinned at their targets.

Counts, not seconds (a regression is a call too many, whatever the machine). The scenarios and
their floors are in tests/paths.py; `scripts/bench_paths.py` prints the same figures.
"""

from __future__ import annotations

import pytest

from tests.conftest import Organization
from tests.paths import PATHS, Path, service_calls, sweep_member_role_calls, sweep_route_record_writes


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.label)
def test_each_event_path_makes_no_more_ec2_calls_than_its_target(organization: Organization, path: Path) -> None:
    calls = path.run(organization)

    assert service_calls(calls, "ec2") <= path.target, dict(calls)


def test_a_warm_worker_assumes_each_member_role_once(organization: Organization) -> None:
    assumed, targets = sweep_member_role_calls(organization, invocations=3)

    assert (assumed, targets) == (2, 6)  # one per member account, not one per target and run


def test_drifted_routes_are_recorded_25_to_a_write(organization: Organization) -> None:
    writes, routes = sweep_route_record_writes(organization, routes=60)

    assert (writes, routes) == (3, 60)  # ceil(60 / 25) BatchWriteItem calls, not 60 PutItem
