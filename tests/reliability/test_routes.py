"""Faults while routes and DNS are configured, and while a dead connection is cleaned up.

Every fault ends, on the retry (or the sweep for a notice claimed by a killed run), with the
routes in EC2 that a fault-free run leaves, a ledger whose route records are exactly those routes,
the record closed once, and one notification per cleanup.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

from peering.aws.clients import reset_member_credentials, shared_session
from peering.aws.ledger import routes as route_records
from tests.builders import cloudtrail_event, ledger_state, status
from tests.conftest import HUB_ACCOUNT, FakeContext, Organization, ec2, emitted_metrics, load_function, put_policy
from tests.faults import Faults
from tests.integration.test_configure import accept_event, accepted, dns_options, dns_ready_vpc
from tests.reliability.conftest import invoke, ledger_summary, outbox_items, routes_to

configure = load_function("configure")
cleanup = load_function("cleanup")


class Wiring:
    """A connection accepted (not yet configured) between two DNS-ready VPCs."""

    def __init__(self, organization: Organization, *, cross_account: bool = False) -> None:
        self.requester = organization.platform_account if cross_account else HUB_ACCOUNT
        self.requester_vpc = dns_ready_vpc(self.requester, "10.0.0.0/16")
        self.accepter_vpc = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
        if cross_account:
            ec2(HUB_ACCOUNT).create_tags(
                Resources=[self.accepter_vpc], Tags=[{"Key": "peering-autopilot:accept", "Value": "true"}]
            )
        self.pcx = accepted(
            organization, _context(), (self.requester, self.requester_vpc), (HUB_ACCOUNT, self.accepter_vpc)
        )
        organization.notifications()  # the decision's own notices are not what these tests count
        self.event = accept_event(HUB_ACCOUNT, self.pcx)

    def ec2_routes(self) -> list[tuple[str, str, str]]:
        return sorted(
            (account, table, destination)
            for account in {self.requester, HUB_ACCOUNT}
            for table, destination, _state in routes_to(account, self.pcx)
        )

    def assert_configured(self) -> None:
        routes = self.ec2_routes()
        assert len(routes) == 2  # one table each side, one block each
        assert all(state == "active" for a in {self.requester, HUB_ACCOUNT} for *_, state in routes_to(a, self.pcx))
        assert ledger_summary(self.pcx)["routes"] == routes  # the ledger's records are EC2's routes
        assert dns_options(HUB_ACCOUNT, self.pcx) == (True, True)


def _context() -> FakeContext:
    return FakeContext()


def delete_event(account: str, pcx: str) -> dict[str, Any]:
    return cloudtrail_event(
        "DeleteVpcPeeringConnection",
        account=account,
        region="us-east-1",
        request_parameters={"vpcPeeringConnectionId": pcx},
        response_elements={"_return": True},
    )


# --- configure: a crash after any change ------------------------------------------------------------

CONFIGURE_MUTATIONS = [
    "dynamodb:BatchWriteItem",  # both route records (the intent), before either route
    "ec2:CreateRoute",
    "ec2:CreateRoute",
    "ec2:ModifyVpcPeeringConnectionOptions",
    "dynamodb:PutItem",  # the plan, in the history
]


def test_the_pinned_order_of_configure_changes_is_the_engines(organization: Organization, faults: Faults) -> None:
    wiring = Wiring(organization)
    seen = faults.crash_after_mutation(0)
    invoke(configure, wiring.event)
    assert seen == CONFIGURE_MUTATIONS


@pytest.mark.parametrize("cross_account", [False, True], ids=["same-account", "cross-account"])
@pytest.mark.parametrize("n", range(1, len(CONFIGURE_MUTATIONS) + 1))
def test_a_crash_after_any_configure_change_is_finished_by_the_retry(
    organization: Organization, faults: Faults, n: int, cross_account: bool
) -> None:
    wiring = Wiring(organization, cross_account=cross_account)
    faults.crash_after_mutation(n)
    assert invoke(configure, wiring.event) == "crashed"
    faults.clear()

    assert isinstance(invoke(configure, wiring.event), dict)

    wiring.assert_configured()


# --- 3. errors on one side are not swallowed ----------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        ("server_error", "ec2", "DescribeRouteTables"),
        ("throttle", "ec2", "DescribeRouteTables"),
        ("deny", "sts", "AssumeRole"),
        ("server_error", "sts", "AssumeRole"),
        ("deny", "ec2", "DescribeRouteTables"),
    ],
    ids="-".join,
)
def test_an_error_on_one_side_fails_the_invocation_and_the_retry_configures_both(
    organization: Organization, faults: Faults, capsys: Any, fault: tuple[str, str, str]
) -> None:
    kind, service, operation = fault
    wiring = Wiring(organization, cross_account=True)
    member = organization.platform_account
    only_member = (lambda text: member in text) if service == "sts" else (lambda text: wiring.requester_vpc in text)
    getattr(faults, kind)(service, operation, times=None, when=only_member)
    reset_member_credentials()  # a new process: the member role is assumed again
    capsys.readouterr()

    result = invoke(configure, wiring.event)

    assert str(result).startswith("raised"), result  # never "ok" with one side left undone
    assert emitted_metrics(capsys.readouterr().out).get("Errors") == 1
    assert wiring.ec2_routes() == []  # nothing half done: the plan needs both sides
    faults.clear()
    assert isinstance(invoke(configure, wiring.event), dict)
    wiring.assert_configured()


def test_a_short_throttling_burst_on_create_route_is_absorbed(organization: Organization, faults: Faults) -> None:
    wiring = Wiring(organization)
    rule = faults.throttle("ec2", "CreateRoute", times=4)

    assert invoke(configure, wiring.event)["outcome"] == "configured"  # type: ignore[index]

    assert rule.injected == 4
    wiring.assert_configured()


# --- 8. a Delete handled while configure runs -------------------------------------------------------


def test_routes_added_after_a_delete_overtook_configure_are_removed(organization: Organization, faults: Faults) -> None:
    wiring = Wiring(organization)

    def delete_and_clean_up() -> None:
        ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=wiring.pcx)
        assert invoke(cleanup, delete_event(HUB_ACCOUNT, wiring.pcx))["outcome"] == "cleaned"  # type: ignore[index]

    faults.before("ec2", "CreateRoute", delete_and_clean_up)  # after planning, before the first route

    result = invoke(configure, wiring.event)

    assert isinstance(result, dict)
    assert any(a["action"].startswith("delete route") and a["status"] == "done" for a in result["actions"])
    assert wiring.ec2_routes() == []  # no blackhole left behind
    assert ledger_summary(wiring.pcx)["routes"] == []
    assert ledger_summary(wiring.pcx)["closed"] is True


# --- out of order ---------------------------------------------------------------------------------


def test_an_accept_delivered_after_the_delete_configures_nothing(organization: Organization) -> None:
    wiring = Wiring(organization)
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=wiring.pcx)
    assert invoke(cleanup, delete_event(HUB_ACCOUNT, wiring.pcx))["outcome"] == "cleaned"  # type: ignore[index]

    assert invoke(configure, wiring.event)["outcome"] == "not-active"  # type: ignore[index]

    assert wiring.ec2_routes() == []
    assert ledger_summary(wiring.pcx)["closed"] is True


def test_a_delete_delivered_before_the_accept_is_cleaned_once(organization: Organization) -> None:
    wiring = Wiring(organization)
    assert invoke(configure, wiring.event)["outcome"] == "configured"  # type: ignore[index]
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=wiring.pcx)

    first = invoke(cleanup, delete_event(HUB_ACCOUNT, wiring.pcx))
    late_accept = invoke(configure, wiring.event)
    again = invoke(cleanup, delete_event(HUB_ACCOUNT, wiring.pcx))

    assert (first["outcome"], late_accept["outcome"], again["outcome"]) == (  # type: ignore[index]
        "cleaned",
        "not-active",
        "unchanged",
    )
    assert wiring.ec2_routes() == []
    assert len(organization.notifications()) == 1


# --- cleanup: a crash after any change --------------------------------------------------------------

CLEANUP_MUTATIONS = [
    "dynamodb:UpdateItem",  # the intent, with the notice listing what is removed
    "ec2:DeleteRoute",
    "ec2:DeleteRoute",
    "dynamodb:BatchWriteItem",  # both route records forgotten once the routes are gone (issue 22)
    "dynamodb:TransactWriteItems",  # closed + notice queued
    "dynamodb:UpdateItem",  # notice claimed
    "sns:Publish",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",  # history: notified
    "dynamodb:PutItem",  # history: the plan
]


def _deleted(organization: Organization) -> Wiring:
    wiring = Wiring(organization)
    assert invoke(configure, wiring.event)["outcome"] == "configured"  # type: ignore[index]
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=wiring.pcx)
    return wiring


def test_the_pinned_order_of_cleanup_changes_is_the_engines(organization: Organization, faults: Faults) -> None:
    wiring = _deleted(organization)
    seen = faults.crash_after_mutation(0)
    invoke(cleanup, delete_event(HUB_ACCOUNT, wiring.pcx))
    assert seen == CLEANUP_MUTATIONS


@pytest.mark.parametrize("n", range(1, len(CLEANUP_MUTATIONS) + 1))
def test_a_crash_after_any_cleanup_change_is_finished_by_the_retry_or_the_sweep(
    organization: Organization, faults: Faults, sweep_now: Callable[[], dict[str, Any]], n: int
) -> None:
    wiring = _deleted(organization)
    event = delete_event(HUB_ACCOUNT, wiring.pcx)
    faults.crash_after_mutation(n)
    assert invoke(cleanup, event) == "crashed"
    faults.clear()

    assert isinstance(invoke(cleanup, event), dict)
    mutation = CLEANUP_MUTATIONS[n - 1]
    if n in (6, 7):  # killed holding the notice's claim: the sweep publishes it
        assert len(outbox_items()) == 1
        assert sweep_now()["notificationsSent"] == 1

    assert wiring.ec2_routes() == []
    summary = ledger_summary(wiring.pcx)
    assert (summary["closed"], summary["status"], summary["intent"], summary["routes"]) == (True, "deleted", False, [])
    assert outbox_items() == []
    notes = organization.notifications()
    assert len(notes) == (2 if mutation == "sns:Publish" else 1)
    # The notice lists what the first run removed, even when the retry found nothing left.
    assert notes[0]["message"].count("delete route") == 2


def test_a_cleanup_notice_that_fails_to_publish_is_published_by_the_retry(
    organization: Organization, faults: Faults
) -> None:
    wiring = _deleted(organization)
    event = delete_event(HUB_ACCOUNT, wiring.pcx)
    faults.server_error("sns", "Publish", times=None)

    assert str(invoke(cleanup, event)).startswith("raised")
    faults.clear()
    assert invoke(cleanup, event)["outcome"] == "unchanged"  # type: ignore[index]

    assert len(organization.notifications()) == 1
    assert status(HUB_ACCOUNT, wiring.pcx) == "deleted"
    assert ledger_state(wiring.pcx)["status"]["S"] == "deleted"


# --- findings: reported once, whatever the faults and races --------------------------------------


def _conflicted(organization: Organization) -> tuple[Wiring, str]:
    """A connection whose accepter table already routes the requester's block to a gateway."""
    wiring = Wiring(organization)
    client = ec2(HUB_ACCOUNT)
    igw = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=igw, VpcId=wiring.accepter_vpc)
    table = client.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [wiring.accepter_vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]["RouteTableId"]
    client.create_route(RouteTableId=table, DestinationCidrBlock="10.0.0.0/16", GatewayId=igw)
    return wiring, igw


@pytest.mark.usefixtures("atomic_moto")
def test_a_conflict_found_by_two_runs_at_once_is_notified_once(organization: Organization, faults: Faults) -> None:
    wiring, igw = _conflicted(organization)
    faults.rendezvous("dynamodb", "GetItem", threading.Barrier(2), after=True)  # both read "not reported yet"

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: invoke(configure, wiring.event), range(2)))

    assert all(isinstance(r, dict) for r in results), results
    notes = organization.notifications()
    assert len(notes) == 1
    assert igw in notes[0]["message"]


def test_a_conflict_notice_that_fails_to_publish_is_published_by_the_retry(
    organization: Organization, faults: Faults
) -> None:
    wiring, igw = _conflicted(organization)
    faults.server_error("sns", "Publish", times=None)

    assert str(invoke(configure, wiring.event)).startswith("raised")
    faults.clear()
    assert isinstance(invoke(configure, wiring.event), dict)
    assert isinstance(invoke(configure, wiring.event), dict)

    notes = organization.notifications()
    assert len(notes) == 1
    assert igw in notes[0]["message"]


# --- route records: 25 to a write, throttled writes sent again ------------------------------------


def _unprocessed_first(times: int) -> Callable[..., Any]:
    """A BatchWriteItem hook: the first ``times`` calls write nothing and answer that every item
    is unprocessed, as DynamoDB does when it throttles part of a batch."""
    left = [times]

    def answer(params: dict[str, Any], **_: Any) -> Any:
        if left[0] == 0:
            return None
        left[0] -= 1
        return SimpleNamespace(status_code=200), {"UnprocessedItems": json.loads(params["body"])["RequestItems"]}

    return answer


def test_unprocessed_route_records_are_sent_again_before_any_route(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    wiring = Wiring(organization)
    pauses: list[float] = []
    monkeypatch.setattr(route_records, "pause", pauses.append)
    hook = _unprocessed_first(2)
    shared_session().events.register_first("before-call.dynamodb.BatchWriteItem", hook)
    try:
        assert invoke(configure, wiring.event)["outcome"] == "configured"  # type: ignore[index]
    finally:
        shared_session().events.unregister("before-call.dynamodb.BatchWriteItem", hook)

    assert pauses == [route_records.BATCH_PAUSE, 2 * route_records.BATCH_PAUSE]  # backing off
    wiring.assert_configured()


def test_route_records_that_never_get_written_fail_the_run_before_any_route(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    wiring = Wiring(organization)
    monkeypatch.setattr(route_records, "pause", lambda _: None)
    hook = _unprocessed_first(route_records.BATCH_ATTEMPTS)
    shared_session().events.register_first("before-call.dynamodb.BatchWriteItem", hook)
    try:
        assert invoke(configure, wiring.event) == "raised LedgerBusyError"
    finally:
        shared_session().events.unregister("before-call.dynamodb.BatchWriteItem", hook)
    assert wiring.ec2_routes() == []  # no route without its record

    assert invoke(configure, wiring.event)["outcome"] == "configured"  # type: ignore[index]
    wiring.assert_configured()


@pytest.mark.parametrize("dns", [True, False], ids=["enabling", "disabling"])
def test_a_refused_dns_change_with_no_missing_prerequisite_fails_and_the_retry_sets_it(
    organization: Organization, faults: Faults, dns: bool
) -> None:
    if not dns:
        put_policy(
            "schemaVersion: 1\nversion: test-nodns\n"
            f"rules:\n  - {{name: hub, action: accept, requester: {{accounts: ['{HUB_ACCOUNT}']}}}}\n"
            "routing:\n  dnsResolution: false\n"
        )
    wiring = Wiring(organization)
    if not dns:
        ec2(HUB_ACCOUNT).modify_vpc_peering_connection_options(
            VpcPeeringConnectionId=wiring.pcx,
            RequesterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True},
        )
    faults.server_error("ec2", "ModifyVpcPeeringConnectionOptions", times=None)

    assert invoke(configure, wiring.event) == "raised ClientError"  # both VPCs are DNS-ready: an error
    faults.clear()
    assert isinstance(invoke(configure, wiring.event), dict)

    assert dns_options(HUB_ACCOUNT, wiring.pcx) == (dns, dns)
    assert len(wiring.ec2_routes()) == 2
    assert ledger_summary(wiring.pcx)["routes"] == wiring.ec2_routes()
