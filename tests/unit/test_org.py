"""Organizations look-ups: access denied is loud, not-in-organization is quiet, answers cached."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from peering.aws import org
from peering.runtime.observability import metrics


class FakeOrganizations:
    def __init__(self, error_code: str | None = None) -> None:
        self.error_code = error_code
        self.calls = 0

    def describe_organization(self) -> dict[str, Any]:
        self.calls += 1
        if self.error_code:
            raise ClientError({"Error": {"Code": self.error_code, "Message": "no"}}, "DescribeOrganization")
        return {"Organization": {"Id": "o-abc123"}}


class FakeAws:
    own_account = "111111111111"

    def __init__(self, client: FakeOrganizations) -> None:
        self.client = client

    def hub(self, service: str) -> FakeOrganizations:
        assert service == "organizations"
        return self.client


@pytest.fixture(autouse=True)
def _fresh() -> None:
    org.clear_cache()
    metrics.clear_metrics()


def test_access_denied_is_reported_with_a_metric() -> None:
    directory = org.OrganizationDirectory(FakeAws(FakeOrganizations("AccessDeniedException")))  # type: ignore[arg-type]
    assert directory.hub_org_id() is None
    assert "OrganizationsAccessDenied" in metrics.metric_set


def test_not_in_an_organization_is_quiet() -> None:
    directory = org.OrganizationDirectory(FakeAws(FakeOrganizations("AWSOrganizationsNotInUseException")))  # type: ignore[arg-type]
    assert directory.hub_org_id() is None
    assert "OrganizationsAccessDenied" not in metrics.metric_set


def test_other_errors_are_raised() -> None:
    directory = org.OrganizationDirectory(FakeAws(FakeOrganizations("TooManyRequestsException")))  # type: ignore[arg-type]
    with pytest.raises(ClientError):
        directory.hub_org_id()


def test_the_answer_is_cached_across_invocations() -> None:
    client = FakeOrganizations()
    assert org.OrganizationDirectory(FakeAws(client)).hub_org_id() == "o-abc123"  # type: ignore[arg-type]
    assert org.OrganizationDirectory(FakeAws(client)).hub_org_id() == "o-abc123"  # type: ignore[arg-type]
    assert client.calls == 1
