"""``python -m runner smoke``: one peering lifecycle through AWS APIs only, then a table of its steps.

In one sandbox account and Region, as a platform team would after deploying: two small VPCs with
a route table each, a peering request between them, and then it waits (bounded, with progress
lines) for what the autopilot does: the request accepted (a held or rejected request fails the
step and says which policy rule is missing), routes to each other's block in both VPCs' tables,
DNS resolution allowed on both sides; then it deletes the connection and waits for the cleanup
(the routes gone, the ledger record closed when the ledger is readable). Whatever it created is
removed at the end, even when a step failed or the run was interrupted: connection, route tables,
VPCs, in that order, each deletion safe to repeat. Everything it creates carries the tag
``peering-autopilot:smoke-test=<run id>`` so that ``--clean-up`` finds what an interrupted run left
(``runner.smoke_leftovers``).

The run never calls a function: it acts and observes through EC2 (and reads the ledger), the same
code against a deployed stack and against the local sandbox. The only differences live in the
``Target`` (``runner.smoke_targets``): where the clients point, where the hub's names come from,
and ``settle``, which on the local fallback lets the emulated hub deliver the events of the calls
made so far (a deployed hub, or the sandbox of ``runner up``, does that by itself).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from runner.smoke_leftovers import FINAL_STATES, RUN_TAG, LeftoversError, remove_run

__all__ = [
    "RUN_TAG",
    "HubNames",
    "SmokeRun",
    "StepFailedError",
    "StepResult",
    "Target",
    "new_run_id",
    "smoke_rule",
]

#: the two VPCs' blocks: /28 is the smallest VPC; private, non-overlapping, rarely used
DEFAULT_CIDRS = ("10.255.255.0/28", "10.255.255.16/28")

T = TypeVar("T")


@dataclass(frozen=True)
class HubNames:
    """What the smoke test reads of the hub: where the names came from, and the ledger table."""

    source: str
    ledger_table: str | None = None
    policy_parameter: str | None = None


class Target(Protocol):
    """Where the smoke test runs: a deployed stack's sandbox account, or the local sandbox."""

    account: str
    region: str
    names: HubNames

    def sandbox_client(self, service: str) -> Any:
        """A boto3 client of the sandbox account, in its Region (the VPCs and the connection)."""

    def hub_client(self, service: str) -> Any:
        """A boto3 client that reads the hub's ledger (the sandbox account's in a single account)."""

    def settle(self) -> None:
        """Let the hub work on the calls made so far (nothing to do for a deployed hub)."""


class StepFailedError(Exception):
    """A step did not reach its expected state: the message says what was seen and what to do."""


@dataclass
class StepResult:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


def new_run_id() -> str:
    """smoke-<UTC time>-<4 hex>: sortable, and unique enough for runs in the same second."""
    return f"smoke-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"


def smoke_rule(account: str, region: str) -> str:
    """The policy rule that accepts the smoke test's requests, and only them (docs/deploy.md)."""
    return (
        "  - name: smoke-test\n"
        "    description: python -m runner smoke peers its own two VPCs in the sandbox account.\n"
        "    action: accept\n"
        f'    requester: {{accounts: ["{account}"], regions: [{region}]}}\n'
        f'    accepter: {{accounts: ["{account}"], vpcTag: {{key: "{RUN_TAG}"}}}}\n'
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _tags(run_id: str, resource: str, name: str) -> list[dict[str, Any]]:
    tags = [{"Key": RUN_TAG, "Value": run_id}, {"Key": "Name", "Value": f"{run_id}-{name}"}]
    return [{"ResourceType": resource, "Tags": tags}]


@dataclass
class Side:
    """One VPC of the run and its route table."""

    name: str
    cidr: str
    vpc_id: str = ""
    table_id: str = ""


@dataclass
class Watch:
    """What a run reads: the connection and the route tables in EC2, and the ledger's record."""

    target: Target
    ec2: Any
    out: Callable[[str], None]
    ledger_readable: bool | None = None  # None: not tried yet

    def connection(self, pcx: str) -> dict[str, Any]:
        found = self.ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
        connections: list[dict[str, Any]] = found["VpcPeeringConnections"]
        if not connections:
            raise StepFailedError(f"{pcx} is not visible any more")
        return connections[0]

    def status(self, pcx: str) -> str:
        return str(self.connection(pcx)["Status"]["Code"])

    def routes_to(self, pcx: str, vpcs: list[str]) -> dict[str, list[str]]:
        """Route table id -> destinations of its routes through ``pcx`` (the tables of ``vpcs``)."""
        tables = self.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": vpcs}])["RouteTables"]
        return {
            str(t["RouteTableId"]): sorted(
                str(r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock"))
                for r in t.get("Routes", [])
                if r.get("VpcPeeringConnectionId") == pcx
            )
            for t in tables
        }

    def ledger_state(self, pcx: str) -> dict[str, Any] | None:
        """The connection's STATE record, or None when there is none or the ledger is not readable."""
        table = self.target.names.ledger_table
        if not table or self.ledger_readable is False:
            return None
        try:
            item: dict[str, Any] | None = (
                self.target.hub_client("dynamodb")
                .get_item(TableName=table, Key={"pk": {"S": pcx}, "sk": {"S": "STATE"}}, ConsistentRead=True)
                .get("Item")
            )
        except ClientError as exc:
            self.ledger_readable = False
            self.out(f"   note: the ledger {table} is not readable ({_code(exc)}): its checks are skipped")
            return None
        self.ledger_readable = True
        return item

    def ledger_why(self, pcx: str) -> str:
        record = self.ledger_state(pcx) or {}
        reasons = [str(r.get("S", "")) for r in record.get("reasons", {}).get("L", [])]
        return f" ({'; '.join(reasons)})" if reasons else ""


@dataclass
class SmokeRun:
    """One run: ``run()`` plays the steps, always tears down, and returns the steps' results."""

    target: Target
    run_id: str
    timeout: float = 300.0
    poll: float = 5.0
    progress_every: float = 15.0
    cidrs: tuple[str, str] = DEFAULT_CIDRS
    out: Callable[[str], None] = print
    results: list[StepResult] = field(default_factory=list)
    connection_id: str = ""

    def __post_init__(self) -> None:
        self.sides = (Side("a", self.cidrs[0]), Side("b", self.cidrs[1]))
        self.ec2 = self.target.sandbox_client("ec2")
        self.watch = Watch(self.target, self.ec2, self.out)

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> list[StepResult]:
        steps: list[tuple[str, Callable[[], str]]] = [
            ("create VPCs", self.create_vpcs),
            ("request peering", self.request),
            ("decision: accepted", self.decision),
            ("routes on both sides", self.routes),
            ("DNS on both sides", self.dns),
            ("delete the connection", self.delete),
            ("cleanup: routes gone", self.routes_gone),
            ("cleanup: ledger closed", self.ledger_closed),
        ]
        try:
            for name, step in steps:
                if not self._step(name, step):
                    break
        finally:
            self._step("remove what it created", self.teardown)
        return self.results

    def _step(self, name: str, step: Callable[[], str]) -> bool:
        self.out(f"-- {name}")
        started = time.monotonic()
        try:
            detail, ok = step(), True
        except StepFailedError as exc:
            detail, ok = str(exc), False
        except (ClientError, BotoCoreError) as exc:
            detail, ok = f"{type(exc).__name__}: {exc}", False
        except BaseException:  # interrupted: record it, then let the interruption through
            self.results.append(StepResult(name, False, time.monotonic() - started, "interrupted"))
            raise
        result = StepResult(name, ok, time.monotonic() - started, detail)
        self.results.append(result)
        self.out(f"   {'ok' if ok else 'FAILED'}: {detail}" if detail else f"   {'ok' if ok else 'FAILED'}")
        return ok

    def _wait(self, what: str, probe: Callable[[], tuple[T | None, str]]) -> T:
        """Poll ``probe`` (after letting the hub settle) until it returns a value, within the timeout.

        ``probe`` returns (value or None, what it sees now); it raises StepFailedError to stop early.
        """
        started = time.monotonic()
        said = started
        while True:
            self.target.settle()
            value, seen = probe()
            if value is not None:
                return value
            waited = time.monotonic() - started
            if waited >= self.timeout:
                raise StepFailedError(f"{what}: not seen within {self.timeout:g} s (last seen: {seen})")
            if time.monotonic() - said >= self.progress_every:
                self.out(f"   waiting for {what}: {waited:.0f} s of {self.timeout:.0f} s; {seen}")
                said = time.monotonic()
            time.sleep(min(self.poll, max(0.0, self.timeout - waited)))

    # -- the steps --------------------------------------------------------------------------

    def create_vpcs(self) -> str:
        for side in self.sides:
            vpc = self.ec2.create_vpc(CidrBlock=side.cidr, TagSpecifications=_tags(self.run_id, "vpc", side.name))
            side.vpc_id = str(vpc["Vpc"]["VpcId"])
            # DNS resolution across a peering needs DNS hostnames on both VPCs.
            self.ec2.modify_vpc_attribute(VpcId=side.vpc_id, EnableDnsHostnames={"Value": True})
            table = self.ec2.create_route_table(
                VpcId=side.vpc_id, TagSpecifications=_tags(self.run_id, "route-table", side.name)
            )
            side.table_id = str(table["RouteTable"]["RouteTableId"])
        return ", ".join(f"{s.vpc_id} {s.cidr} (table {s.table_id})" for s in self.sides)

    def request(self) -> str:
        a, b = self.sides
        made = self.ec2.create_vpc_peering_connection(
            VpcId=a.vpc_id, PeerVpcId=b.vpc_id, TagSpecifications=_tags(self.run_id, "vpc-peering-connection", "pcx")
        )
        self.connection_id = str(made["VpcPeeringConnection"]["VpcPeeringConnectionId"])
        return f"{self.connection_id}: {a.vpc_id} -> {b.vpc_id}"

    def decision(self) -> str:
        def probe() -> tuple[str | None, str]:
            status = self.watch.status(self.connection_id)
            if status == "active":
                return "accepted: the connection is active", status
            if status in FINAL_STATES:
                raise StepFailedError(f"the connection is {status}{self.watch.ledger_why(self.connection_id)}")
            record = self.watch.ledger_state(self.connection_id)
            decision = str((record or {}).get("decision", {}).get("S", ""))
            if decision in ("held", "rejected"):
                why = self.watch.ledger_why(self.connection_id)
                raise StepFailedError(
                    f"the policy {decision} the request{why}; for the smoke test the policy needs this rule "
                    f"(docs/deploy.md):\n{smoke_rule(self.target.account, self.target.region)}"
                )
            return None, f"the connection is {status}" + (f", ledger decision {decision}" if decision else "")

        return self._wait("the decision", probe)

    def routes(self) -> str:
        a, b = self.sides
        expected = {a.table_id: b.cidr, b.table_id: a.cidr}

        def probe() -> tuple[str | None, str]:
            present = self._routes()
            missing = [f"{t} -> {cidr}" for t, cidr in expected.items() if cidr not in present.get(t, [])]
            if not missing:
                return ", ".join(f"{t} -> {cidr} via {self.connection_id}" for t, cidr in expected.items()), ""
            return None, f"missing {', '.join(missing)}"

        return self._wait("the routes", probe)

    def dns(self) -> str:
        def probe() -> tuple[str | None, str]:
            connection = self.watch.connection(self.connection_id)
            off = [
                side
                for side in ("Requester", "Accepter")
                if not (connection.get(f"{side}VpcInfo", {}).get("PeeringOptions") or {}).get(
                    "AllowDnsResolutionFromRemoteVpc"
                )
            ]
            if not off:
                return "AllowDnsResolutionFromRemoteVpc on the requester and the accepter side", ""
            sides = " and ".join(side.lower() for side in off)
            return None, f"not allowed on the {sides} side (is the policy's routing.dnsResolution false?)"

        return self._wait("DNS resolution", probe)

    def delete(self) -> str:
        self.ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=self.connection_id)
        return f"DeleteVpcPeeringConnection {self.connection_id}"

    def routes_gone(self) -> str:
        def probe() -> tuple[str | None, str]:
            left = {t: cidrs for t, cidrs in self._routes().items() if cidrs}
            if not left:
                return f"no route targets {self.connection_id} in either VPC", ""
            return None, "still " + ", ".join(f"{t} -> {', '.join(c)}" for t, c in left.items())

        return self._wait("the routes' removal", probe)

    def ledger_closed(self) -> str:
        if self.watch.ledger_state(self.connection_id) is None and not self.watch.ledger_readable:
            return f"skipped: the ledger is not readable here ({self.target.names.source})"

        def probe() -> tuple[str | None, str]:
            record = self.watch.ledger_state(self.connection_id) or {}
            if "closedAt" in record:
                status = record.get("status", {}).get("S", "")
                return f"record closed at {record['closedAt']['S']} (status {status})", ""
            return None, "the record is open" if record else "no record yet"

        return self._wait("the ledger record's closing", probe)

    def _routes(self) -> dict[str, list[str]]:
        return self.watch.routes_to(self.connection_id, [side.vpc_id for side in self.sides])

    def teardown(self) -> str:
        try:
            removed = remove_run(
                self.ec2,
                self.run_id,
                tables=[s.table_id for s in self.sides if s.table_id],
                vpcs=[s.vpc_id for s in self.sides if s.vpc_id],
                connection_id=self.connection_id,
            )
        except LeftoversError as exc:
            done = f"removed {', '.join(exc.removed)}; " if exc.removed else ""
            raise StepFailedError(
                f"{done}could not remove {exc}: `smoke --clean-up` tries again (tag {RUN_TAG}={self.run_id})"
            ) from exc
        finally:
            self.target.settle()  # the hub sees the deletions too
        return f"removed {', '.join(removed)}" if removed else "nothing to remove"


def table(results: list[StepResult]) -> str:
    """The steps as a table: name, pass/FAIL, seconds, and the first line of what was seen."""
    width = max((len(r.name) for r in results), default=4)
    lines = [f"{'step':{width}}  result  time     detail"]
    for r in results:
        detail = r.detail.splitlines()[0] if r.detail else ""
        lines.append(f"{r.name:{width}}  {'pass' if r.ok else 'FAIL':6}  {r.seconds:6.1f} s  {detail}".rstrip())
    return "\n".join(lines)
