"""Publishing the peering map: each account+Region's fragment, and the organization's page.

The deployed hub (PublishMap=true sets MAP_BUCKET):

- the worker, after converging an account+Region, writes that account+Region's fragment (JSON,
  ``fragments/<account>/<Region>.json``) from a snapshot taken after its changes, the ledger's
  records and the account's name and OU;
- the map function, on the sweep's schedule and off its path, reads the fragment of every target
  the sweep sweeps (READ_THREADS at a time, until its deadline) and writes the assembled page
  (``peering-map.html``): the map is at most about one sweep interval old, and no run reads more
  than the sweep's targets' fragments (docs/peering-map.md).

Bounded work: a fragment over MAX_FRAGMENT_BYTES is summarized by its worker (and never loaded by
the map function), the page draws in full only as many fragments as PAGE_BUDGET_BYTES allows and
summarizes the others (model/summary.py), and the reading stops in time to render; a page ready
too late is not written (the previous one stays).

Locally, ``python -m runner map`` and ``make demo`` observe every target directly (``observe_map``)
and render the same page. A map that cannot be published never touches the sweep: it is logged and
counted (MapPublishFailures), and the next run writes it again.

Imported lazily, only when a map is wanted: handlers' cold starts do not pay for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
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
from peering.core.deadline import NEVER, Deadline
from peering.core.errors import ConfigurationError, OutOfTimeError
from peering.core.models import ConnectionStatus
from peering.core.network import DnsAttributes
from peering.lifecycle.context import EngineContext
from peering.lifecycle.engine import Engine
from peering.map.model import (
    MAX_FRAGMENT_BYTES,
    PAGE_BUDGET_BYTES,
    AccountInfo,
    DecisionView,
    MapFragment,
    PeeringMap,
    RegionView,
    Sized,
    assemble,
    build_fragment,
    fit_page,
    route_records_wanted,
    summarize,
)
from peering.map.render import render
from peering.runtime.observability import MetricUnit, logger, metrics

MAP_KEY = "peering-map.html"
FRAGMENTS = "fragments/"
_ABSENT = {"NoSuchKey", "404", "AccessDenied", "403"}  # without s3:ListBucket, a missing key is a 403
# GetObject calls in flight at once: 10,000 fragments are about 30 s at 100 ms a call, 32 at a time
# (one after the other, 500-1,500 s: issue 23).
READ_THREADS = 32
RENDER_SECONDS = 60.0  # at most, kept from reading for assembling and rendering the page


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
    wanted = route_records_wanted(view, engine.routing_options(), routing)
    if wanted:  # one query per connection whose routes only their owner may remove
        view = replace(view, owned={c: engine.ledger.owned_routes(c) for c in wanted})
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


def _body(fragment: MapFragment) -> bytes:
    return json.dumps(fragment.to_json(), separators=(",", ":")).encode()


def write_fragment(engine: EngineContext, bucket: str, fragment: MapFragment) -> str:
    """The fragment, or its summary when it is over ``MAX_FRAGMENT_BYTES`` (model/summary.py): a
    member cannot make the map function read, nor the page draw, megabytes of its own."""
    key = fragment_key(fragment.account, fragment.region)
    body = _body(fragment)
    if len(body) > MAX_FRAGMENT_BYTES:
        logger.warning(
            "map fragment over the cap: summarized",
            extra={"account": fragment.account, "region": fragment.region, "bytes": len(body)},
        )
        metrics.add_metric(name="MapFragmentsSummarized", unit=MetricUnit.Count, value=1)
        body = _body(summarize(fragment, len(body), "fragment"))
    engine.aws.hub("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return key


@dataclass
class FragmentsRead:
    found: list[Sized] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)  # no fragment yet
    unread: list[tuple[str, str, str]] = field(default_factory=list)  # (account, Region, why)


def _read_one(s3: Any, bucket: str, account: str, region: str) -> Sized | str | None:
    """The fragment; None when there is none; why it was not read when it is over the cap."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=fragment_key(account, region))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _ABSENT:
            return None
        raise
    size = int(answer.get("ContentLength", 0))
    if size > MAX_FRAGMENT_BYTES:  # written before the cap, or not by our worker: never loaded
        answer["Body"].close()
        return f"fragment of {size:,} bytes, over the {MAX_FRAGMENT_BYTES:,}-byte cap"
    body = answer["Body"].read(MAX_FRAGMENT_BYTES + 1)
    if len(body) > MAX_FRAGMENT_BYTES:
        return f"fragment over the {MAX_FRAGMENT_BYTES:,}-byte cap"
    return Sized(MapFragment.from_json(json.loads(body)), len(body))


def read_fragments(
    engine: EngineContext, bucket: str, targets: Sequence[tuple[str, str]], deadline: Deadline = NEVER
) -> FragmentsRead:
    """The fragments of ``targets``, READ_THREADS GetObject calls at a time, until ``deadline``:
    those not read by then are listed as such (the page is written with the rest)."""
    s3 = engine.aws.hub("s3")  # made once: boto3 clients are safe to share between threads
    read = FragmentsRead()
    pool = ThreadPoolExecutor(max_workers=READ_THREADS)
    pending = {pool.submit(_read_one, s3, bucket, a, r): (a, r) for a, r in targets}
    left = deadline.seconds_left()
    try:
        for future in as_completed(pending, timeout=None if left is None else max(0.0, left - deadline.margin_seconds)):
            account, region = pending.pop(future)
            try:
                result = future.result()
            except Exception:  # one unreadable fragment (AWS error, bad JSON) leaves the others
                logger.exception("map fragment not readable", extra={"account": account, "region": region})
                read.unread.append((account, region, "not readable"))
                continue
            if result is None:
                read.missing.append((account, region))
            elif isinstance(result, str):
                read.unread.append((account, region, result))
            else:
                read.found.append(result)
    except TimeoutError:
        read.unread += [(a, r, "not read in time") for a, r in pending.values()]
        logger.warning("map fragments not read in time", extra={"unread": len(pending)})
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a call still hanging is left to its own timeout
    return read


def build_map(read: FragmentsRead, budget: int = PAGE_BUDGET_BYTES) -> PeeringMap:
    """The page's map: every fragment read, summarized where the page's cap needs it."""
    return assemble(fit_page(read.found, budget), datetime.now(UTC), missing=read.missing, unread=read.unread)


def write_map(
    engine: EngineContext, bucket: str, targets: Sequence[tuple[str, str]], deadline: Deadline = NEVER
) -> dict[str, Any]:
    """Assemble the targets' fragments into the page, in the bucket, within ``deadline``: the
    reading stops with time left to render; past the deadline the previous page is kept."""
    reading = Deadline(deadline.remaining_ms, deadline.margin_seconds + _render_reserve(deadline))
    read = read_fragments(engine, bucket, targets, reading)
    peering_map = build_map(read)
    page = render(peering_map).encode()
    figures = {
        "key": MAP_KEY,
        "fragments": len(read.found),
        "summarized": len(peering_map.summarized),
        "missing": len(read.missing),
        "unread": len(read.unread),
        "bytes": len(page),
    }
    if deadline.expired():
        raise OutOfTimeError(f"the page was ready too late ({deadline.seconds_left():.0f} s left): previous kept")
    engine.aws.hub("s3").put_object(Bucket=bucket, Key=MAP_KEY, Body=page, ContentType="text/html; charset=utf-8")
    return figures


def _render_reserve(deadline: Deadline) -> float:
    """Time kept from reading for assembling, rendering and writing the page: a quarter of the
    invocation, at most RENDER_SECONDS."""
    left = deadline.seconds_left()
    return RENDER_SECONDS if left is None else min(RENDER_SECONDS, left / 4)


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


def publish_map(engine: EngineContext, targets: Sequence[tuple[str, str]], deadline: Deadline) -> dict[str, Any]:
    """The map function's run: the page of ``targets`` (the sweep's), or the previous one kept.
    A failure is logged and counted (MapPublishFailures), and raised: the function's own retries
    and dead-letter queue see it, and the sweep never does."""
    bucket = map_bucket()
    if bucket is None:
        raise ConfigurationError("MAP_BUCKET is not set")
    try:
        written = write_map(engine, bucket, targets, deadline)
    except Exception:
        logger.exception("the peering map could not be written: the previous page stays")
        metrics.add_metric(name="MapPublishFailures", unit=MetricUnit.Count, value=1)
        raise
    logger.info("peering map written", extra=written)
    for name, value in (("MapFragmentsUnread", written["unread"]), ("MapPageBytes", written["bytes"])):
        metrics.add_metric(
            name=name, unit=MetricUnit.Count if name != "MapPageBytes" else MetricUnit.Bytes, value=value
        )
    return written
