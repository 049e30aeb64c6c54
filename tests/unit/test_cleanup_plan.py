"""The pure cleanup planner, stale-request rule and sweep message/settings parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from peering.core.cleanup_plan import (
    WITHDRAWN,
    CleanupOptions,
    SideLeftovers,
    cleanup_key,
    is_stale_request,
    plan_cleanup,
    references_to,
)
from peering.core.errors import ConfigurationError, InvalidEventError
from peering.core.models import Connection, ConnectionStatus, Intent, LedgerState, Notice, Side
from peering.core.network import Route, RouteTable
from peering.sweep.messages import MAX_CONTINUATIONS, SweepSettings, SweepTarget
from peering.sweep.target import _needs_decision

PCX = "pcx-0a1b2c3d4e5f60718"
INSTALLED = (("111111111111", "us-east-1", "rtb-1", "10.1.0.0/16"),)  # the route records of PCX
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def leftovers(*routes: Route, refs: tuple = ()) -> SideLeftovers:  # type: ignore[type-arg]
    return SideLeftovers("111111111111", "us-east-1", "vpc-a", (RouteTable("rtb-1", "vpc-a", True, (), routes),), refs)


GROUPS = [
    {
        "GroupId": "sg-db",
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": "sg-app", "UserId": "222222222222", "VpcPeeringConnectionId": PCX}],
            },
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        ],
        "IpPermissionsEgress": [
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-x", "VpcId": "vpc-b"}]},
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-local", "VpcId": "vpc-a"}]},
        ],
    }
]


def test_references_through_the_connection_or_to_the_peer_vpc() -> None:
    refs = references_to(GROUPS, "111111111111", "us-east-1", PCX, "vpc-b")
    assert [(r.group_id, r.direction, dict(r.pair)["GroupId"]) for r in refs] == [
        ("sg-db", "ingress", "sg-app"),
        ("sg-db", "egress", "sg-x"),
    ]
    assert refs[0].ip_permission() == {
        "IpProtocol": "tcp",
        "FromPort": 5432,
        "ToPort": 5432,
        "UserIdGroupPairs": [{"GroupId": "sg-app", "UserId": "222222222222", "VpcPeeringConnectionId": PCX}],
    }
    assert "through pcx-" in refs[0].describe()


def test_only_routes_to_the_dead_connection_are_deleted() -> None:
    plan = plan_cleanup(
        PCX,
        "deleted",
        [
            leftovers(
                Route("10.1.0.0/16", "vpc-peering-connection", PCX, "blackhole"),
                Route("10.2.0.0/16", "vpc-peering-connection", "pcx-0fffffffffffffff0"),
            )
        ],
        options=CleanupOptions(),
        previous=None,
        records=INSTALLED,
    )
    assert [(c.kind, c.destination) for c in plan.route_deletions] == [("delete", "10.1.0.0/16")]
    assert plan.close_record
    assert plan.notify is not None


def test_only_the_routes_the_autopilot_installed_are_deleted_the_others_reported() -> None:
    plan = plan_cleanup(
        PCX,
        "deleted",
        [
            leftovers(
                Route("10.1.0.0/16", "vpc-peering-connection", PCX, "blackhole"),  # ours
                Route("10.1.1.0/24", "vpc-peering-connection", PCX, "blackhole"),  # made by hand
            )
        ],
        options=CleanupOptions(),
        previous=None,
        records=INSTALLED,
    )
    unread = plan_cleanup(
        PCX,
        "deleted",
        [leftovers(Route("10.1.0.0/16", "vpc-peering-connection", PCX))],
        options=CleanupOptions(),
        previous=None,
    )

    assert [c.destination for c in plan.route_deletions] == ["10.1.0.0/16"]
    assert [(f.kind, f.key) for f in plan.findings] == [("foreign-route", f"foreign:rtb-1:10.1.1.0/24:{PCX}")]
    assert "10.1.1.0/24" in plan.render()
    assert "did not install" in plan.render()
    assert unread.route_deletions == ()  # no records given: nothing is the autopilot's


def test_records_of_routes_already_gone_are_forgotten_only_where_the_sides_were_read() -> None:
    gone = ("111111111111", "us-east-1", "rtb-2", "10.1.0.0/16")  # removed by a run killed before forgetting it
    elsewhere = ("222222222222", "eu-west-1", "rtb-9", "10.0.0.0/16")  # a side this run could not read
    records = (*INSTALLED, gone, elsewhere)

    plan = plan_cleanup(
        PCX,
        "deleted",
        [leftovers(Route("10.1.0.0/16", "vpc-peering-connection", PCX, "blackhole"))],
        options=CleanupOptions(),
        previous=None,
        records=records,
    )

    assert [c.route_table_id for c in plan.route_deletions] == ["rtb-1"]
    assert plan.stale_records == (gone,)
    assert "forget 1 route record(s) of routes already gone" in plan.render()


def test_references_are_revoked_only_when_the_policy_says() -> None:
    refs = references_to(GROUPS, "111111111111", "us-east-1", PCX, "vpc-b")
    kept = plan_cleanup(PCX, "deleted", [leftovers(refs=refs)], options=CleanupOptions(), previous=None)
    revoked = plan_cleanup(
        PCX,
        "deleted",
        [leftovers(refs=refs)],
        options=CleanupOptions(revoke_stale_security_group_rules=True),
        previous=None,
    )
    assert kept.revocations == ()
    assert kept.stale_references == refs
    assert "reported, not revoked" in kept.render()
    assert revoked.revocations == refs
    assert "revoke ingress rule of sg-db" in revoked.render()


def test_a_closed_record_is_not_closed_or_notified_again() -> None:
    closed = LedgerState(PCX, "accepted", "v1", "deleted", closed=True)
    plan = plan_cleanup(PCX, "deleted", [leftovers()], options=CleanupOptions(), previous=closed)
    assert plan.is_noop
    assert "(nothing left behind)" in plan.render()


@pytest.mark.parametrize(("status", "why"), [("expired", "within 7 days"), ("failed", "refused")])
def test_expiry_and_failure_are_notified_with_the_reason(status: str, why: str) -> None:
    plan = plan_cleanup(PCX, status, [], options=CleanupOptions(), previous=None, status_message="Overlapping CIDRs")
    assert plan.notify is not None
    subject, message = plan.notify.subject, plan.notify.message
    assert status in subject
    assert why in message
    assert "AWS says: Overlapping CIDRs" in message


def test_a_record_closed_once_keeps_its_final_status() -> None:
    # A late Delete for a connection closed as rejected (or withdrawn) rewrites nothing.
    closed = LedgerState(PCX, "rejected", "v1", "rejected", closed=True)
    plan = plan_cleanup(PCX, "deleted", [], options=CleanupOptions(), previous=closed)
    assert plan.is_noop


def test_the_intent_of_an_interrupted_cleanup_brings_its_notice_to_the_retry() -> None:
    first = plan_cleanup(
        PCX,
        "deleted",
        [leftovers(Route("10.1.0.0/16", "vpc-peering-connection", PCX, "blackhole"))],
        options=CleanupOptions(),
        previous=None,
        records=INSTALLED,
    )
    assert first.notify is not None
    assert first.intent == Intent(cleanup_key("deleted"), first.notify)
    interrupted = LedgerState(PCX, "accepted", "v1", "pending-acceptance", intent=first.intent)

    retry = plan_cleanup(PCX, "deleted", [leftovers()], options=CleanupOptions(), previous=interrupted)

    assert retry.route_deletions == ()  # the first run removed the route...
    assert retry.close_record
    assert retry.notify == first.notify  # ...and its notice, which lists it, is the one sent


def test_a_withdrawal_interrupted_after_its_delete_is_closed_as_withdrawn_with_its_notice() -> None:
    notice = Notice("withdrawn", "it waited too long")
    begun = LedgerState(PCX, "held", "v1", "pending-acceptance", intent=Intent(cleanup_key(WITHDRAWN), notice))
    plan = plan_cleanup(PCX, "deleted", [], options=CleanupOptions(), previous=begun)
    assert (plan.status, plan.close_record, plan.notify) == (WITHDRAWN, True, notice)


def test_another_cleanups_intent_is_not_reused() -> None:
    begun = LedgerState(
        PCX, "held", "v1", "pending-acceptance", intent=Intent(cleanup_key("rejected"), Notice("a", "b"))
    )
    plan = plan_cleanup(PCX, "expired", [], options=CleanupOptions(), previous=begun)
    assert plan.notify is not None
    assert "expired" in plan.notify.subject


@pytest.mark.parametrize(
    ("state", "current", "again"),
    [
        (None, "v1", True),  # never decided
        (LedgerState(PCX, "held", "v1", "pending-acceptance"), "v1", False),
        (LedgerState(PCX, "held", "v1", "pending-acceptance"), "v2", True),  # a new policy version
        (LedgerState(PCX, "held", "none", "pending-acceptance"), "v1", True),  # the policy was fixed
        (LedgerState(PCX, "held", "v1", "pending-acceptance", applied=False), "v1", True),  # not carried out
        (LedgerState(PCX, "held", "v1", "pending-acceptance", decided_by="operator:alice"), "v2", False),
    ],
)
def test_the_sweep_decides_a_pending_request_again_only_when_something_changed(
    state: LedgerState | None, current: str, again: bool
) -> None:
    assert _needs_decision(state, current) is again


def test_a_rejection_with_nothing_left_is_closed_quietly() -> None:
    plan = plan_cleanup(PCX, "rejected", [], options=CleanupOptions(), previous=None)
    assert plan.close_record
    assert plan.notify is None


def _request(
    requester: str, hours_old: float, status: ConnectionStatus = ConnectionStatus.PENDING_ACCEPTANCE
) -> Connection:
    return Connection(
        PCX,
        status,
        "",
        Side(requester, "us-east-1", "vpc-a"),
        Side("999999999999", "us-east-1", "vpc-b"),
        expiration_time=NOW - timedelta(hours=hours_old) + timedelta(days=7),
    )


@pytest.mark.parametrize(
    ("requester", "hours", "status", "stale"),
    [
        ("111111111111", 73, ConnectionStatus.PENDING_ACCEPTANCE, True),
        ("111111111111", 71, ConnectionStatus.PENDING_ACCEPTANCE, False),
        ("999999999999", 100, ConnectionStatus.PENDING_ACCEPTANCE, False),  # not ours: we are the accepter
        ("111111111111", 100, ConnectionStatus.ACTIVE, False),
    ],
)
def test_stale_requests_are_ours_pending_and_older_than_the_limit(
    requester: str, hours: float, status: ConnectionStatus, stale: bool
) -> None:
    assert is_stale_request(_request(requester, hours, status), "111111111111", NOW, CleanupOptions()) is stale


def test_a_request_without_expiry_is_never_stale() -> None:
    conn = Connection(
        PCX, ConnectionStatus.PENDING_ACCEPTANCE, "", Side("1" * 12, "us-east-1", "v"), Side("2" * 12, "us-east-1", "w")
    )
    assert not is_stale_request(conn, "1" * 12, NOW, CleanupOptions())


def test_sweep_messages_round_trip_and_bad_ones_are_refused() -> None:
    target = SweepTarget("111111111111", "eu-west-1", "sweep-1", dry_run=True)
    assert SweepTarget.from_message(target.to_message()) == target
    assert "continuation" not in target.to_message()  # a first run's message is as before
    following = target.next_run().next_run()
    assert SweepTarget.from_message(following.to_message()) == following
    assert following.continuation == 2
    for body in (
        "not json",
        "{}",
        '{"account": "12", "region": "us-east-1"}',
        '{"account": "111111111111", "region": "../x"}',
        '{"account": "111111111111", "region": "us-east-1", "continuation": true}',
        '{"account": "111111111111", "region": "us-east-1", "continuation": -1}',
        f'{{"account": "111111111111", "region": "us-east-1", "continuation": {MAX_CONTINUATIONS + 1}}}',
    ):
        with pytest.raises(InvalidEventError):
            SweepTarget.from_message(body)


def test_sweep_settings() -> None:
    settings = SweepSettings.from_env(
        {"SWEEP_QUEUE_URL": "https://q", "SWEEP_REGIONS": "us-east-1, eu-west-1", "SWEEP_ACCOUNTS": "111111111111"}
    )
    assert settings == SweepSettings("https://q", ("us-east-1", "eu-west-1"), ("111111111111",))
    assert SweepSettings.from_env({"AWS_REGION": "eu-central-1"}).regions == ("eu-central-1",)
    with pytest.raises(ConfigurationError):
        SweepSettings.from_env({"SWEEP_ACCOUNTS": "not-an-account"})
