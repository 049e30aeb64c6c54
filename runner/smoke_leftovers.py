"""Removing what ``python -m runner smoke`` created, found by its run tag: one run's (at its end, even
after a failed step) or every earlier run's (``--clean-up``, after a run that was killed). Deletions
go in dependency order (connection, route tables, VPCs) and each is safe to repeat: a resource
already gone is not an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

__all__ = ["FINAL_STATES", "RUN_TAG", "LeftoversError", "leftover_runs", "remove_leftovers", "remove_run"]

#: the tag on everything the smoke test creates; its value is the run id
RUN_TAG = "peering-autopilot:smoke-test"
#: the states after which a connection needs no deletion
FINAL_STATES = frozenset({"deleted", "rejected", "failed", "expired"})
_NOT_FOUND = ("NotFound", "InvalidVpcID.NotFound", "InvalidRouteTableID.NotFound", "InvalidVpcPeeringConnectionID")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class LeftoversError(Exception):
    """Some of a run's resources could not be deleted: ``left`` maps each to why."""

    def __init__(self, removed: list[str], left: dict[str, str]) -> None:
        self.removed = removed
        self.left = left
        super().__init__(", ".join(f"{resource} ({why})" for resource, why in left.items()))


#: a VPC lets go of a just-deleted connection (or route table) after a moment: about a minute of retries
_DEPENDENCY_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0)


def _delete(delete: Callable[..., Any], **params: str) -> bool:
    """Run a deletion; False when the resource is already gone (a deletion safe to repeat)."""
    for delay in (*_DEPENDENCY_RETRY_DELAYS, None):
        try:
            delete(**params)
        except ClientError as exc:
            if any(code in _code(exc) for code in _NOT_FOUND):
                return False
            if _code(exc) != "DependencyViolation" or delay is None:
                raise
            time.sleep(delay)
        else:
            return True
    raise AssertionError("unreachable")  # pragma: no cover


def _tagged(ec2: Any, run_id: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(connections, route tables, VPCs) carrying the run tag (any run's when run_id is None)."""
    tag = [{"Name": f"tag:{RUN_TAG}", "Values": [run_id]}] if run_id else [{"Name": "tag-key", "Values": [RUN_TAG]}]
    connections = ec2.describe_vpc_peering_connections(Filters=tag)["VpcPeeringConnections"]
    tables = ec2.describe_route_tables(Filters=tag)["RouteTables"]
    vpcs = ec2.describe_vpcs(Filters=tag)["Vpcs"]
    return connections, tables, vpcs


def remove_run(
    ec2: Any, run_id: str | None, *, tables: Iterable[str] = (), vpcs: Iterable[str] = (), connection_id: str = ""
) -> list[str]:
    """Delete a run's resources in dependency order (connection, route tables, VPCs); what was removed.

    Found by the run tag, plus the ids this process knows (in case a tag was never written). Every
    deletion is tried; when one fails, the VPCs are not (they would still depend on it) and
    ``LeftoversError`` says what is left and why.
    """
    connections, tagged_tables, tagged_vpcs = _tagged(ec2, run_id)
    connection_ids = {str(c["VpcPeeringConnectionId"]) for c in connections if c["Status"]["Code"] not in FINAL_STATES}
    if connection_id and connection_id not in {str(c["VpcPeeringConnectionId"]) for c in connections}:
        connection_ids.add(connection_id)  # not found by its tag: ask EC2 about it by id below
    table_ids = {str(t["RouteTableId"]) for t in tagged_tables} | set(tables)
    vpc_ids = {str(v["VpcId"]) for v in tagged_vpcs} | set(vpcs)
    removed: list[str] = []
    left: dict[str, str] = {}

    def delete(resource: str, call: Callable[..., Any], **params: str) -> None:
        try:
            if _delete(call, **params):
                removed.append(resource)
        except ClientError as exc:
            left[resource] = _code(exc) or str(exc)

    for pcx in sorted(connection_ids):
        if _needs_deleting(ec2, pcx):
            delete(pcx, ec2.delete_vpc_peering_connection, VpcPeeringConnectionId=pcx)
    for table in sorted(table_ids):
        delete(table, ec2.delete_route_table, RouteTableId=table)
    for vpc in sorted(vpc_ids):
        if left:
            left[vpc] = "not tried: what it holds is still there"
        else:
            delete(vpc, ec2.delete_vpc, VpcId=vpc)
    if left:
        raise LeftoversError(removed, left)
    return removed


def _needs_deleting(ec2: Any, connection_id: str) -> bool:
    try:
        found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[connection_id])["VpcPeeringConnections"]
    except ClientError as exc:
        if any(code in _code(exc) for code in _NOT_FOUND):
            return False
        raise
    return any(c["Status"]["Code"] not in FINAL_STATES for c in found)


def remove_leftovers(ec2: Any) -> dict[str, list[str]]:
    """Every run's resources in this account and Region (``--clean-up``): run id -> what was removed."""
    connections, tables, vpcs = _tagged(ec2, None)
    runs = sorted(
        {
            str(tag["Value"])
            for resource in (*connections, *tables, *vpcs)
            for tag in resource.get("Tags", [])
            if tag.get("Key") == RUN_TAG
        }
    )
    return {run: remove_run(ec2, run) for run in runs}


def leftover_runs(ec2: Any, *, besides: str) -> list[str]:
    """The run ids of VPCs that earlier runs left (an interrupted run that could not clean up)."""
    _connections, _tables, vpcs = _tagged(ec2, None)
    return sorted(
        {
            str(tag["Value"])
            for vpc in vpcs
            for tag in vpc.get("Tags", [])
            if tag.get("Key") == RUN_TAG and tag.get("Value") != besides
        }
    )
