"""The event paths, call by call: one scenario per path and case, with the floor and the target.

Each scenario builds its AWS state with the tests' own clients, then runs the function as Lambda
would (the handler, a CloudTrail event) and counts every call the function makes through a
botocore hook on the functions' process-wide session (the tests' clients are not counted).
Used by ``tests/integration/test_call_counts.py`` (which pins the targets) and by
``scripts/bench_paths.py`` (which prints them).

The floor of a path is the calls no implementation can avoid: reading what the decision needs,
once per account+Region, and each change. The target is the floor plus what the reliability
design pays on purpose (configure reads the connection again after adding routes when no DNS
change follows them: docs/reliability.md, "Configure overtaken by a Delete").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from peering.aws.clients import shared_session
from peering.sweep.messages import SweepTarget
from tests.builders import ACCEPT_TAG, accepted_by_hand, cloudtrail_event, make_vpc, request_peering, sqs_event
from tests.conftest import HUB_ACCOUNT, OTHER_REGION, REGION, FakeContext, Organization, ec2, load_function
from tests.reliability.conftest import routes_to


@contextmanager
def counted() -> Iterator[Counter[str]]:
    """Every call the functions make while the block runs, as "service:Operation"."""
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_id.hyphenize()}:{model.name}"] += 1

    shared_session().events.register("before-call", count)
    try:
        yield calls
    finally:
        shared_session().events.unregister("before-call", count)


def service_calls(calls: Counter[str], service: str) -> int:
    return sum(n for op, n in calls.items() if op.startswith(f"{service}:"))


def _context() -> FakeContext:
    return FakeContext()


def _dns_ready(account: str, cidr: str, region: str = REGION, **kwargs: Any) -> str:
    vpc_id = make_vpc(account, cidr, region=region, **kwargs)
    ec2(account, region).modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    return vpc_id


def _call_event(name: str, account: str, region: str, pcx: str, **response: Any) -> dict[str, Any]:
    return cloudtrail_event(
        name,
        account=account,
        region=region,
        request_parameters={"vpcPeeringConnectionId": pcx},
        response_elements=response or {"_return": True},
    )


@dataclass(frozen=True)
class Request:
    """A pending request of one case: where each side lives, its VPCs and its Create event."""

    pcx: str
    event: dict[str, Any]
    requester: tuple[str, str]  # (account, Region)
    accepter: tuple[str, str]
    requester_vpc: str
    accepter_vpc: str

    def accept_event(self) -> dict[str, Any]:
        """The accepter's AcceptVpcPeeringConnection call, as configure receives it."""
        return _call_event(
            "AcceptVpcPeeringConnection",
            *self.accepter,
            self.pcx,
            vpcPeeringConnection={"vpcPeeringConnectionId": self.pcx, "status": {"code": "provisioning"}},
        )


CASES = ("same account+Region", "cross-account", "inter-Region", "requester outside the organization")


def request(organization: Organization, case: str, tables: int = 1) -> Request:
    """A pending request of ``case``, which the default policy decides, with ``tables`` route
    tables per VPC (the main one and ``tables - 1`` more)."""
    member = organization.platform_account
    requester, accepter = {
        CASES[0]: ((HUB_ACCOUNT, REGION), (HUB_ACCOUNT, REGION)),
        CASES[1]: ((member, REGION), (HUB_ACCOUNT, REGION)),
        CASES[2]: ((member, REGION), (HUB_ACCOUNT, OTHER_REGION)),
        CASES[3]: ((organization.outsider_account, REGION), (HUB_ACCOUNT, REGION)),
    }[case]
    requester_vpc = _dns_ready(requester[0], "10.20.0.0/16", requester[1])
    accepter_vpc = _dns_ready(accepter[0], "10.1.0.0/16", accepter[1], tags=ACCEPT_TAG)
    for (account, region), vpc_id in ((requester, requester_vpc), (accepter, accepter_vpc)):
        for _ in range(tables - 1):
            ec2(account, region).create_route_table(VpcId=vpc_id)
    pcx, event = request_peering(
        requester[0], requester_vpc, accepter[0], accepter_vpc, region=requester[1], peer_region=accepter[1]
    )
    return Request(pcx, event, requester, accepter, requester_vpc, accepter_vpc)


def accepted(organization: Organization, case: str, tables: int = 1) -> Request:
    """An accepted connection of ``case``, not configured yet."""
    made = request(organization, case, tables)
    assert load_function("accept").lambda_handler(made.event, _context())["outcome"] == "accepted"
    return made


# --- the paths --------------------------------------------------------------------------------


def accept_path(organization: Organization, case: str) -> Counter[str]:
    made = request(organization, case)
    with counted() as calls:
        result = load_function("accept").lambda_handler(made.event, _context())
    expected = "held" if case == "requester outside the organization" else "accepted"
    assert result["outcome"] == expected, result
    return calls


def configure_path(organization: Organization, case: str, tables: int = 1) -> Counter[str]:
    made = accepted(organization, case, tables)
    with counted() as calls:
        result = load_function("configure").lambda_handler(made.accept_event(), _context())
    assert result["outcome"] == "configured", result
    routes = sum(1 for a in result["actions"] if a["action"].startswith("create route") and a["status"] == "done")
    assert routes == 2 * tables, result
    return calls


def cleanup_path(organization: Organization, case: str) -> Counter[str]:
    """A configured connection deleted by its requester. Where both sides share an account and
    Region, the accepter has a rule that references the requester's group through it, which the
    cleanup reports as stale (moto resolves a referenced group in the caller's account only; the
    security groups are read on every side regardless)."""
    made = accepted(organization, case)
    assert load_function("configure").lambda_handler(made.accept_event(), _context())["outcome"] == "configured"
    requester_ec2, accepter_ec2 = ec2(*made.requester), ec2(*made.accepter)
    db = accepter_ec2.create_security_group(GroupName="db", Description="db", VpcId=made.accepter_vpc)["GroupId"]
    shared = made.requester == made.accepter
    if shared:
        app = requester_ec2.create_security_group(GroupName="app", Description="app", VpcId=made.requester_vpc)
        pair = {
            "GroupId": app["GroupId"],
            "UserId": made.requester[0],
            "VpcId": made.requester_vpc,
            "VpcPeeringConnectionId": made.pcx,
        }
        permission = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [pair]}
        accepter_ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[permission])
    requester_ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=made.pcx)
    event = _call_event("DeleteVpcPeeringConnection", *made.requester, made.pcx)
    with counted() as calls:
        result = load_function("cleanup").lambda_handler(event, _context())
    assert result["outcome"] == "cleaned", result
    assert sum(1 for a in result["actions"] if a["action"].startswith("delete route")) == 2, result
    if shared:
        assert any(db in reason for reason in result["reasons"]), result  # the stale rule, reported
    return calls


# --- the sweep -----------------------------------------------------------------------------------


def sweep_member_role_calls(organization: Organization, invocations: int = 2) -> tuple[int, int]:
    """(AssumeRole calls, member targets swept) over ``invocations`` warm worker runs, each with
    one message per member account."""
    members = (organization.platform_account, organization.sandbox_account)
    messages = [SweepTarget(account, REGION, "bench").to_message() for account in members]
    worker = load_function("worker")
    with counted() as calls:
        for _ in range(invocations):
            assert worker.lambda_handler(sqs_event(*messages), _context()) == {"batchItemFailures": []}
    return calls["sts:AssumeRole"], len(members) * invocations


_LEDGER_WRITES = frozenset({"PutItem", "DeleteItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems"})


def sweep_route_record_writes(organization: Organization, routes: int = 50) -> tuple[int, int]:
    """(DynamoDB writes of route records, routes created) when the worker repairs a target whose
    active connection is missing ``routes`` routes (half the route tables on each side)."""
    made = accepted(organization, "same account+Region", tables=routes // 2)
    writes = Counter[str]()

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name in _LEDGER_WRITES and b"ROUTE#" in params.get("body", b""):
            writes[model.name] += 1

    shared_session().events.register("before-call.dynamodb", count)
    try:
        message = SweepTarget(HUB_ACCOUNT, REGION, "bench").to_message()
        result = load_function("worker").lambda_handler(sqs_event(message), _context())
    finally:
        shared_session().events.unregister("before-call.dynamodb", count)
    assert result == {"batchItemFailures": []}, result
    created = len(routes_to(HUB_ACCOUNT, made.pcx))
    assert created == routes
    return sum(writes.values()), created


def sweep_ledger_writes(organization: Organization, connections: int = 50) -> tuple[Counter[str], int]:
    """(DynamoDB calls by operation, routes created) when the worker configures ``connections``
    active same-account connections that have no route yet (two each: one per side)."""
    client = ec2(HUB_ACCOUNT)
    for n in range(connections):
        vpcs = [_dns_ready(HUB_ACCOUNT, f"10.{n}.{half * 128}.0/17") for half in (0, 1)]
        pcx = client.create_vpc_peering_connection(VpcId=vpcs[0], PeerVpcId=vpcs[1])["VpcPeeringConnection"]
        accepted_by_hand(HUB_ACCOUNT, pcx["VpcPeeringConnectionId"])  # after deployment: managed
    message = SweepTarget(HUB_ACCOUNT, REGION, "bench").to_message()
    with counted() as calls:
        result = load_function("worker").lambda_handler(sqs_event(message), _context())
    assert result == {"batchItemFailures": []}, result
    routes = sum(
        1
        for table in client.describe_route_tables()["RouteTables"]
        for route in table["Routes"]
        if route.get("VpcPeeringConnectionId")
    )
    return Counter({op.split(":", 1)[1]: n for op, n in calls.items() if op.startswith("dynamodb:")}), routes


@dataclass(frozen=True)
class Path:
    """One path and case, its EC2 floor and the target this release holds it to."""

    name: str
    case: str
    floor: int
    target: int
    run: Callable[[Organization], Counter[str]]

    @property
    def label(self) -> str:
        return f"{self.name}, {self.case}"


def _accept(case: str) -> Callable[[Organization], Counter[str]]:
    return lambda organization: accept_path(organization, case)


def _configure(case: str, tables: int = 1) -> Callable[[Organization], Counter[str]]:
    return lambda organization: configure_path(organization, case, tables)


def _cleanup(case: str) -> Callable[[Organization], Counter[str]]:
    return lambda organization: cleanup_path(organization, case)


# Floors: accept = the account+Region's connections once where both sides live (the connection
# itself, duplicates and quota in one listing) + both VPCs in one read + tag + accept, and one
# listing and one VPC read more when the requester lives elsewhere; configure = the connection +
# the route tables and the VPCs (their tags decide the scope: core/scope.py) once per
# account+Region + the other owner's view of the connection (its tags: the scope) + each route +
# the DNS option once per owner; cleanup
# = the connection + route tables and security groups once per account+Region + each route.
PATHS = (
    Path("accept one request", "same account+Region", 4, 4, _accept("same account+Region")),
    Path("accept one request", "cross-account", 6, 6, _accept("cross-account")),
    Path("accept one request", "inter-Region", 6, 6, _accept("inter-Region")),
    Path(
        "accept one request (held)",
        "requester outside the organization",
        3,
        3,
        _accept("requester outside the organization"),
    ),
    Path("configure, 1 table per VPC", "same account+Region", 6, 7, _configure("same account+Region")),
    Path("configure, 1 table per VPC", "cross-account", 10, 11, _configure("cross-account")),
    Path("configure, 1 table per VPC", "inter-Region", 10, 11, _configure("inter-Region")),
    Path("configure, 10 tables per VPC", "same account+Region", 24, 25, _configure("same account+Region", 10)),
    Path("cleanup after delete, 1 table", "same account+Region", 5, 5, _cleanup("same account+Region")),
    Path("cleanup after delete, 1 table", "cross-account", 7, 7, _cleanup("cross-account")),
    Path("cleanup after delete, 1 table", "inter-Region", 7, 7, _cleanup("inter-Region")),
)
