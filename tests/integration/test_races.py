"""Races between planning and applying: another run (or a person) got there first.

Each test lets the plan be made, then changes AWS before it is applied, the way a concurrent
invocation would, and asserts that apply converges instead of failing or clobbering.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.route_tables import RouteBackend

from peering.aws.apply import Applier, ConfigureApplier
from tests.builders import ACCEPT_TAG, make_vpc, request_peering, status
from tests.conftest import HUB_ACCOUNT, FakeContext, Organization, ec2, emitted_metrics, load_function
from tests.integration.test_configure import accept_event, accepted, dns_ready_vpc, main_table, routes

accept = load_function("accept")
configure = load_function("configure")


def before_apply(monkeypatch: pytest.MonkeyPatch, applier: type, meddle: Any) -> None:
    original = applier.apply

    def apply(self: Any, plan: Any) -> Any:
        meddle()
        return original(self, plan)

    monkeypatch.setattr(applier, "apply", apply)


def test_request_accepted_meanwhile_is_already_done(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    requester = make_vpc(organization.platform_account, "10.20.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, event = request_peering(organization.platform_account, requester, HUB_ACCOUNT, accepter)
    before_apply(
        monkeypatch, Applier, lambda: ec2(HUB_ACCOUNT).accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    )

    result = accept.lambda_handler(event, context)

    assert result["outcome"] == "accepted"
    assert [a["status"] for a in result["actions"] if a["action"].startswith("accept")] == ["already-done"]
    assert status(HUB_ACCOUNT, pcx) == "active"


def test_request_rejected_meanwhile_cannot_be_accepted(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    requester = make_vpc(organization.platform_account, "10.20.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, event = request_peering(organization.platform_account, requester, HUB_ACCOUNT, accepter)
    before_apply(
        monkeypatch, Applier, lambda: ec2(HUB_ACCOUNT).reject_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    )

    with pytest.raises(ClientError, match=r"InvalidStateTransition|OperationNotPermitted"):
        accept.lambda_handler(event, context)  # retried; the next run sees it rejected
    assert status(HUB_ACCOUNT, pcx) == "rejected"
    assert emitted_metrics(capsys.readouterr().out)["Errors"] == 1


def test_route_created_meanwhile_to_the_same_connection_is_already_done(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    table_b = main_table(HUB_ACCOUNT, b)
    before_apply(
        monkeypatch,
        ConfigureApplier,
        lambda: ec2(HUB_ACCOUNT).create_route(
            RouteTableId=table_b, DestinationCidrBlock="10.0.0.0/16", VpcPeeringConnectionId=pcx
        ),
    )

    result = configure.lambda_handler(accept_event(HUB_ACCOUNT, pcx), context)

    statuses = {a["action"].split(" in ")[-1]: a["status"] for a in result["actions"] if "create route" in a["action"]}
    assert f"{table_b} ({HUB_ACCOUNT}/us-east-1)" in statuses
    assert statuses[f"{table_b} ({HUB_ACCOUNT}/us-east-1)"] == "already-done"
    assert routes(HUB_ACCOUNT, b)[table_b]["10.0.0.0/16"] == pcx


def test_route_created_meanwhile_to_another_target_is_a_conflict_not_clobbered(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    table_b = main_table(HUB_ACCOUNT, b)
    client = ec2(HUB_ACCOUNT)
    igw = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=igw, VpcId=b)
    before_apply(
        monkeypatch,
        ConfigureApplier,
        lambda: client.create_route(RouteTableId=table_b, DestinationCidrBlock="10.0.0.0/16", GatewayId=igw),
    )

    result = configure.lambda_handler(accept_event(HUB_ACCOUNT, pcx), context)

    assert routes(HUB_ACCOUNT, b)[table_b]["10.0.0.0/16"] == igw
    assert "conflict" in [a["status"] for a in result["actions"]]
    assert any("route-conflict" in r and igw in r for r in result["reasons"])
    assert igw in organization.notifications()[0]["message"]


def test_table_full_at_apply_time_is_reported_and_the_rest_goes_in(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    table_b = main_table(HUB_ACCOUNT, b)
    original = RouteBackend.create_route

    def limited(self: Any, route_table_id: str, *args: Any, **kwargs: Any) -> Any:
        # The quota was raised or lowered behind the plan's back: AWS answers RouteLimitExceeded.
        if route_table_id == table_b:
            raise EC2ClientError("RouteLimitExceeded", "The maximum number of routes has been reached.")
        return original(self, route_table_id, *args, **kwargs)

    monkeypatch.setattr(RouteBackend, "create_route", limited)

    result = configure.lambda_handler(accept_event(HUB_ACCOUNT, pcx), context)

    assert "quota-full" in [x["status"] for x in result["actions"]]
    assert any("route-quota-full" in r for r in result["reasons"])
    assert routes(HUB_ACCOUNT, a)[main_table(HUB_ACCOUNT, a)]["10.1.0.0/16"] == pcx


def test_route_deleted_meanwhile_is_already_done(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16", extra_cidrs=("10.2.0.0/16",))
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    configure.lambda_handler(accept_event(HUB_ACCOUNT, pcx), context)
    client = ec2(HUB_ACCOUNT)
    association = next(
        x["AssociationId"]
        for x in client.describe_vpcs(VpcIds=[a])["Vpcs"][0]["CidrBlockAssociationSet"]
        if x["CidrBlock"] == "10.2.0.0/16"
    )
    client.disassociate_vpc_cidr_block(AssociationId=association)
    table_b = main_table(HUB_ACCOUNT, b)
    before_apply(
        monkeypatch,
        ConfigureApplier,
        lambda: client.delete_route(RouteTableId=table_b, DestinationCidrBlock="10.2.0.0/16"),
    )

    result = configure.lambda_handler(accept_event(HUB_ACCOUNT, pcx), context)

    assert [x["status"] for x in result["actions"] if x["action"].startswith("delete route")] == ["already-done"]
    assert "10.2.0.0/16" not in routes(HUB_ACCOUNT, b)[table_b]
