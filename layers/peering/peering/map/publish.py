"""Publishing the peering map: each account+Region's fragment, and the organization's page.

The deployed hub (PublishMap=true sets MAP_BUCKET):

- the worker, after converging an account+Region, writes that account+Region's fragment (JSON,
  ``fragments/<account>/<Region>.json``) from a snapshot taken after its changes, the ledger's
  records and the account's name and OU;
- the sweep function, before it fans out the next sweep, reads the fragment of every target it
  sweeps and writes the assembled page (``peering-map.html``): the map is at most one sweep
  interval old, and no run reads more than its own targets' fragments (docs/peering-map.md).

Locally, ``python -m runner map`` and ``make demo`` observe every target directly (``observe_map``)
and render the same page. A map that cannot be published never fails the sweep: it is logged and
counted (MapPublishFailures), and the next sweep writes it again.

Imported lazily, only when a map is wanted: handlers' cold starts do not pay for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from peering.aws.observe import (
    RegionSnapshot,
    dns_attributes,
    observe_region,
    paginate,
    read_peer_subnets,
    read_scope_view,
)
from peering.core.models import ConnectionStatus
from peering.core.network import DnsAttributes
from peering.lifecycle.context import EngineContext
from peering.lifecycle.engine import Engine
from peering.map.model import (
    AccountInfo,
    DecisionView,
    MapFragment,
    PeeringMap,
    RegionView,
    assemble,
    build_fragment,
)
from peering.map.render import render
from peering.runtime.observability import MetricUnit, logger, metrics

MAP_KEY = "peering-map.html"
FRAGMENTS = "fragments/"
_ABSENT = {"NoSuchKey", "404", "AccessDenied", "403"}  # without s3:ListBucket, a missing key is a 403


def map_bucket(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    return env.get("MAP_BUCKET") or None


def fragment_key(account: str, region: str) -> str:
    return f"{FRAGMENTS}{account}/{region}.json"


def account_info(engine: EngineContext, account: str) -> AccountInfo:
    """The account's name and its parent OU's name, when Organizations is readable (cached per
    account in org.py: one look-up per account, whatever the number of its Regions)."""
    try:
        name, ou = engine.directory.account_label(account)
    except ClientError as exc:
        logger.info("account name not readable for the map", extra={"account": account, "error": str(exc)})
        return AccountInfo(account)
    return AccountInfo(account, name, ou)


def observe_fragment(engine: Engine, account: str, region: str, snapshot: RegionSnapshot | None = None) -> MapFragment:
    """One account+Region's fragment: the snapshot (read now unless given, as the sweep reads it),
    the leftovers of dead connections, the DNS attributes of VPCs whose resolution is to be enabled,
    the ledger's records, and what the sweep plans with: each connection's own routing (its
    accepting rule's, else the document's) and the subnets of peers elsewhere."""
    if snapshot is None:
        snapshot = observe_region(engine.aws, account, region, with_subnets=engine.routing_reads_subnets())
    ids = [c.connection_id for c in snapshot.connections]
    items = engine.ledger.state_items(ids)
    records = {c: DecisionView.from_item(item) for c, item in items.items()}
    # The rule's routing needs the decision behind it: read like the sweep reads it.
    states = engine.ledger.states(ids) if ids and engine.routing_depends_on_rule() else {}
    routing = {c.connection_id: engine.routing_options(states.get(c.connection_id)) for c in snapshot.connections}
    peer_subnets, unread = read_peer_subnets(engine.aws, engine.directory, snapshot, lambda c: routing[c.connection_id])
    dead = [c for c in snapshot.connections if c.status.is_dead]
    groups = paginate(engine.aws, account, region, "describe_security_groups", "SecurityGroups") if dead else []
    dns: dict[str, DnsAttributes] = {}
    for conn in snapshot.connections:
        if conn.status is not ConnectionStatus.ACTIVE or not routing[conn.connection_id].dns_resolution:
            continue
        for role in snapshot.local_roles(conn):
            info = conn.requester if role == "requester" else conn.accepter
            off = not info.allow_dns_resolution_from_remote
            if off and info.vpc_id in snapshot.vpcs and info.vpc_id not in dns:
                dns[info.vpc_id] = dns_attributes(engine.aws, account, region, info.vpc_id)
    networks = {vpc_id: network for vpc_id in snapshot.vpcs if (network := snapshot.side(vpc_id)) is not None}
    view = RegionView(
        account,
        region,
        snapshot.connections,
        networks,
        leftovers={c.connection_id: snapshot.leftovers(c, groups) for c in dead},
        dns=dns,
        peer_subnets=peer_subnets,
        unread_peers=frozenset(unread),
    )
    return build_fragment(
        view,
        records,
        engine.routing_options(),
        datetime.now(UTC),
        routing=routing,
        accounts=[account_info(engine, account)],
        policy_version=engine.policy_version(),
        scopes=_scopes(engine, snapshot),
    )


def _scopes(engine: Engine, snapshot: RegionSnapshot) -> dict[str, str]:
    """Each active connection's scope, decided as the sweep decides it (lifecycle/scope.py)."""
    active = [c for c in snapshot.connections if c.status is ConnectionStatus.ACTIVE]
    if not active:
        return {}
    ids = [c.connection_id for c in active]
    states, records = engine.ledger.states(ids), engine.ledger.scope_records(ids)
    here = (snapshot.account, snapshot.region)
    view = read_scope_view(engine.aws, engine.directory, active, here, snapshot.vpcs)
    return {
        c.connection_id: engine.scope_of(c, view, states.get(c.connection_id), records.get(c.connection_id)).scope.value
        for c in active
    }


def observe_map(engine: Engine, targets: Sequence[tuple[str, str]]) -> PeeringMap:
    """The whole map, every target observed now (the local runner, the demo)."""
    fragments = [observe_fragment(engine, account, region) for account, region in targets]
    return assemble(fragments, datetime.now(UTC))


def write_fragment(engine: EngineContext, bucket: str, fragment: MapFragment) -> str:
    key = fragment_key(fragment.account, fragment.region)
    engine.aws.hub("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(fragment.to_json(), separators=(",", ":")).encode(),
        ContentType="application/json",
    )
    return key


def read_fragments(
    engine: EngineContext, bucket: str, targets: Sequence[tuple[str, str]]
) -> tuple[list[MapFragment], list[tuple[str, str]]]:
    """The fragments of ``targets`` and the targets that have none yet."""
    s3 = engine.aws.hub("s3")
    found, missing = [], []
    for account, region in targets:
        try:
            body = s3.get_object(Bucket=bucket, Key=fragment_key(account, region))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _ABSENT:
                missing.append((account, region))
                continue
            raise
        found.append(MapFragment.from_json(json.loads(body)))
    return found, missing


def write_map(engine: EngineContext, bucket: str, targets: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Assemble the targets' fragments into the page, in the bucket."""
    fragments, missing = read_fragments(engine, bucket, targets)
    page = render(assemble(fragments, datetime.now(UTC), missing=missing))
    engine.aws.hub("s3").put_object(
        Bucket=bucket, Key=MAP_KEY, Body=page.encode(), ContentType="text/html; charset=utf-8"
    )
    return {"key": MAP_KEY, "fragments": len(fragments), "missing": len(missing), "bytes": len(page.encode())}


def publish_fragment_safely(engine: Engine, account: str, region: str, snapshot: RegionSnapshot | None) -> None:
    """The worker's step: never fails the target it converged (the next sweep writes it again)."""
    bucket = map_bucket()
    if bucket is None:
        return
    try:
        write_fragment(engine, bucket, observe_fragment(engine, account, region, snapshot))
    except Exception:  # the map is a view: the convergence it follows stands
        logger.exception("the map fragment could not be written")
        metrics.add_metric(name="MapPublishFailures", unit=MetricUnit.Count, value=1)


def publish_map_safely(engine: EngineContext, targets: Sequence[tuple[str, str]]) -> dict[str, Any] | None:
    """The sweep's step, before fanning out: never stops the sweep."""
    bucket = map_bucket()
    if bucket is None:
        return None
    try:
        written = write_map(engine, bucket, targets)
    except Exception:  # the map is a view: the sweep it precedes matters more
        logger.exception("the peering map could not be written")
        metrics.add_metric(name="MapPublishFailures", unit=MetricUnit.Count, value=1)
        return None
    logger.info("peering map written", extra=written)
    return written
