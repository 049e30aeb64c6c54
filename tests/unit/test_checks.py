"""Pre-accept safety checks: CIDR overlap, duplicate connections, active-peering quota."""

from __future__ import annotations

import pytest

from peering.core.checks import SafetyFindings, overlapping_blocks, run_safety_checks
from peering.core.models import Connection, ConnectionStatus
from tests.unit.strategies import connection, observation, side, vpc

LIVE = [s for s in ConnectionStatus if s.is_live]
DEAD = [s for s in ConnectionStatus if s.is_dead]

# --- overlapping_blocks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (["10.0.0.0/16"], ["10.1.0.0/16"], ()),  # neighbours, no overlap
        (["10.0.0.0/16"], ["10.0.0.0/16"], (("10.0.0.0/16", "10.0.0.0/16"),)),  # exact match
        (["10.0.0.0/16"], ["10.0.128.0/24"], (("10.0.0.0/16", "10.0.128.0/24"),)),  # right nested in left
        (["10.0.128.0/24"], ["10.0.0.0/8"], (("10.0.128.0/24", "10.0.0.0/8"),)),  # left nested in right
        (["10.0.255.0/24"], ["10.1.0.0/24"], ()),  # adjacent, last and first address differ
        (["192.168.0.0/16"], ["192.168.255.255/32"], (("192.168.0.0/16", "192.168.255.255/32"),)),
        ([], ["10.0.0.0/16"], ()),
        (["10.0.0.0/16"], [], ()),
    ],
)
def test_ipv4_overlaps(left: list[str], right: list[str], expected: tuple[tuple[str, str], ...]) -> None:
    assert overlapping_blocks(left, right) == expected


def test_secondary_blocks_are_compared_too() -> None:
    accepter = ["10.0.0.0/16", "100.64.0.0/16", "172.16.0.0/20"]
    requester = ["10.1.0.0/16", "172.16.8.0/21", "100.64.0.0/10"]
    assert overlapping_blocks(accepter, requester) == (
        ("100.64.0.0/16", "100.64.0.0/10"),
        ("172.16.0.0/20", "172.16.8.0/21"),
    )


def test_every_overlapping_pair_is_reported_in_order() -> None:
    got = overlapping_blocks(["10.0.0.0/8", "10.2.0.0/16"], ["10.2.0.0/24", "10.3.0.0/16"])
    assert got == (
        ("10.0.0.0/8", "10.2.0.0/24"),
        ("10.0.0.0/8", "10.3.0.0/16"),
        ("10.2.0.0/16", "10.2.0.0/24"),
    )


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (["2600:1f18:1::/56"], ["2600:1f18:2::/56"], ()),
        (["2600:1f18:1::/56"], ["2600:1f18:1::/56"], (("2600:1f18:1::/56", "2600:1f18:1::/56"),)),
        (["2600:1f18::/48"], ["2600:1f18:0:100::/56"], (("2600:1f18::/48", "2600:1f18:0:100::/56"),)),
        (["2600:1f18:0:100::/56"], ["2600:1f18::/32"], (("2600:1f18:0:100::/56", "2600:1f18::/32"),)),
    ],
)
def test_ipv6_overlaps(left: list[str], right: list[str], expected: tuple[tuple[str, str], ...]) -> None:
    assert overlapping_blocks(left, right) == expected


def test_never_across_ip_versions() -> None:
    # ::ffff:10.0.0.0/104 is the IPv4-mapped form of 10/8: still a different address family in a VPC.
    assert overlapping_blocks(["10.0.0.0/8", "0.0.0.0/0"], ["::ffff:10.0.0.0/104", "::/0"]) == ()
    assert overlapping_blocks(["::/0"], ["0.0.0.0/0"]) == ()


def test_mixed_lists_report_only_same_version_pairs() -> None:
    got = overlapping_blocks(["10.0.0.0/16", "2600:1f18::/56"], ["2600:1f18::/64", "10.0.1.0/24", "10.9.0.0/16"])
    assert got == (("10.0.0.0/16", "10.0.1.0/24"), ("2600:1f18::/56", "2600:1f18::/64"))


def test_blocks_are_normalised_in_the_report() -> None:
    assert overlapping_blocks(["10.0.0.1/16"], ["2600:1F18:0000::/56"]) == ()
    assert overlapping_blocks(["10.0.0.1/16"], ["10.0.5.5/24"]) == (("10.0.0.0/16", "10.0.5.0/24"),)


def test_accepts_any_iterable_once() -> None:
    assert overlapping_blocks(iter(["10.0.0.0/16"]), iter(["10.0.0.0/24"])) == (("10.0.0.0/16", "10.0.0.0/24"),)


def test_an_invalid_block_is_an_error() -> None:
    with pytest.raises(ValueError, match="not-a-block"):
        overlapping_blocks(["not-a-block"], ["10.0.0.0/16"])


# --- run_safety_checks: overlaps -----------------------------------------------------------------


def test_a_clean_request_has_no_findings() -> None:
    got = run_safety_checks(observation(), 50)
    assert got == SafetyFindings(overlaps=(), duplicates=(), quota_exhausted=())
    assert not got.must_reject
    assert got.reasons(50) == ()


def test_overlap_between_the_vpcs_read_from_ec2() -> None:
    obs = observation(
        accepter_vpc=vpc(cidrs=("10.0.0.0/16", "10.20.0.0/16"), ipv6=("2600:1f18::/56",)),
        requester_vpc=vpc(
            "vpc-requester", "222222222222", cidrs=("10.1.0.0/16", "10.20.128.0/17"), ipv6=("2600:1f18::/56",)
        ),
    )
    got = run_safety_checks(obs, 50)
    assert got.overlaps == (("10.20.0.0/16", "10.20.128.0/17"), ("2600:1f18::/56", "2600:1f18::/56"))
    assert got.must_reject


def test_overlap_uses_the_connection_blocks_when_the_requester_vpc_cannot_be_read() -> None:
    conn = connection(requester=side(cidrs=("10.9.0.0/16", "10.0.4.0/22"), ipv6=("2600:1f18:5::/56",)))
    base = observation(conn, accepter_vpc=vpc(cidrs=("10.0.0.0/16",), ipv6=("2600:1f18::/40",)))
    outside = type(base)(connection=conn, accepter_vpc=base.accepter_vpc, requester_vpc=None, requester=base.requester)
    assert run_safety_checks(outside, 50).overlaps == (
        ("10.0.0.0/16", "10.0.4.0/22"),
        ("2600:1f18::/40", "2600:1f18:5::/56"),
    )


def test_ipv4_and_ipv6_blocks_never_overlap_each_other_in_the_checks() -> None:
    obs = observation(
        accepter_vpc=vpc(cidrs=("10.0.0.0/16",), ipv6=()),
        requester_vpc=vpc("vpc-requester", cidrs=("10.1.0.0/16",), ipv6=("::/0",)),
    )
    assert run_safety_checks(obs, 50).overlaps == ()


# --- run_safety_checks: duplicates ---------------------------------------------------------------


def _neighbour(connection_id: str, status: ConnectionStatus, a: str, b: str) -> Connection:
    return connection(connection_id=connection_id, status=status, requester=side(vpc_id=a), accepter=side(vpc_id=b))


@pytest.mark.parametrize("status", LIVE)
@pytest.mark.parametrize("direction", ["same", "reversed"])
def test_a_live_connection_between_the_same_vpcs_is_a_duplicate(status: ConnectionStatus, direction: str) -> None:
    ends = ("vpc-requester", "vpc-accepter") if direction == "same" else ("vpc-accepter", "vpc-requester")
    obs = observation(neighbours=(_neighbour("pcx-22222222", status, *ends),))
    got = run_safety_checks(obs, 50)
    assert got.duplicates == ("pcx-22222222",)
    assert got.must_reject
    assert "another live connection already joins these VPCs: pcx-22222222" in got.reasons(50)


@pytest.mark.parametrize("status", DEAD)
def test_a_dead_connection_between_the_same_vpcs_is_not_a_duplicate(status: ConnectionStatus) -> None:
    obs = observation(neighbours=(_neighbour("pcx-22222222", status, "vpc-accepter", "vpc-requester"),))
    got = run_safety_checks(obs, 50)
    assert got.duplicates == ()
    assert not got.must_reject


def test_the_connection_itself_is_not_its_own_duplicate() -> None:
    conn = connection()
    assert run_safety_checks(observation(conn, neighbours=(conn,)), 50).duplicates == ()


def test_connections_to_other_vpcs_are_not_duplicates() -> None:
    obs = observation(
        neighbours=(
            _neighbour("pcx-33333333", ConnectionStatus.ACTIVE, "vpc-requester", "vpc-other"),
            _neighbour("pcx-44444444", ConnectionStatus.ACTIVE, "vpc-other", "vpc-accepter"),
        )
    )
    assert run_safety_checks(obs, 50).duplicates == ()


def test_several_duplicates_are_listed_sorted() -> None:
    obs = observation(
        neighbours=(
            _neighbour("pcx-bbbbbbbb", ConnectionStatus.PENDING_ACCEPTANCE, "vpc-requester", "vpc-accepter"),
            _neighbour("pcx-aaaaaaaa", ConnectionStatus.ACTIVE, "vpc-accepter", "vpc-requester"),
            _neighbour("pcx-cccccccc", ConnectionStatus.DELETED, "vpc-accepter", "vpc-requester"),
        )
    )
    got = run_safety_checks(obs, 50)
    assert got.duplicates == ("pcx-aaaaaaaa", "pcx-bbbbbbbb")
    assert "another live connection already joins these VPCs: pcx-aaaaaaaa, pcx-bbbbbbbb" in got.reasons(50)


# --- run_safety_checks: quota --------------------------------------------------------------------


def _peers(
    vpc_id: str, count: int, status: ConnectionStatus = ConnectionStatus.ACTIVE, prefix: str = "a"
) -> list[Connection]:
    return [
        connection(
            connection_id=f"pcx-{prefix}{i:07x}",
            status=status,
            requester=side(vpc_id=vpc_id),
            accepter=side(vpc_id=f"vpc-peer-{prefix}{i}"),
        )
        for i in range(count)
    ]


def test_quota_below_the_limit_leaves_headroom() -> None:
    obs = observation(neighbours=tuple(_peers("vpc-accepter", 2) + _peers("vpc-requester", 2, prefix="b")))
    assert run_safety_checks(obs, 3).quota_exhausted == ()


def test_quota_at_the_limit_is_exhausted() -> None:
    obs = observation(neighbours=tuple(_peers("vpc-accepter", 3)))
    got = run_safety_checks(obs, 3)
    assert got.quota_exhausted == ("vpc-accepter (3 active)",)
    assert not got.must_reject  # a full VPC is held, not rejected
    assert got.reasons(3) == ("no headroom under the active peerings quota (3 per VPC) for vpc-accepter (3 active)",)


def test_quota_above_the_limit_is_exhausted() -> None:
    obs = observation(neighbours=tuple(_peers("vpc-requester", 5)))
    assert run_safety_checks(obs, 3).quota_exhausted == ("vpc-requester (5 active)",)


def test_quota_checks_both_vpcs_accepter_first() -> None:
    obs = observation(neighbours=tuple(_peers("vpc-requester", 2, prefix="b") + _peers("vpc-accepter", 2)))
    got = run_safety_checks(obs, 2)
    assert got.quota_exhausted == ("vpc-accepter (2 active)", "vpc-requester (2 active)")
    assert got.reasons(2) == (
        "no headroom under the active peerings quota (2 per VPC) for vpc-accepter (2 active), vpc-requester (2 active)",
    )


@pytest.mark.parametrize("status", [s for s in ConnectionStatus if s is not ConnectionStatus.ACTIVE])
def test_quota_counts_only_active_connections(status: ConnectionStatus) -> None:
    obs = observation(neighbours=tuple(_peers("vpc-accepter", 4, status)))
    assert run_safety_checks(obs, 1).quota_exhausted == ()


def test_quota_counts_a_connection_from_either_side() -> None:
    reversed_peers = [
        connection(
            connection_id=f"pcx-{i:08x}",
            status=ConnectionStatus.ACTIVE,
            requester=side(vpc_id=f"vpc-peer{i}"),
            accepter=side(vpc_id="vpc-accepter"),
        )
        for i in range(2)
    ]
    assert run_safety_checks(observation(neighbours=tuple(reversed_peers)), 2).quota_exhausted == (
        "vpc-accepter (2 active)",
    )


def test_the_connection_itself_does_not_count_against_the_quota() -> None:
    conn = connection(status=ConnectionStatus.ACTIVE)  # a stale view; the check must not count itself
    assert run_safety_checks(observation(conn, neighbours=(conn,)), 1).quota_exhausted == ()


def test_an_active_duplicate_counts_for_both_vpcs() -> None:
    dup = _neighbour("pcx-dddddddd", ConnectionStatus.ACTIVE, "vpc-requester", "vpc-accepter")
    got = run_safety_checks(observation(neighbours=(dup,)), 1)
    assert got.duplicates == ("pcx-dddddddd",)
    assert got.quota_exhausted == ("vpc-accepter (1 active)", "vpc-requester (1 active)")


# --- reasons -------------------------------------------------------------------------------------


def test_reasons_list_every_finding_in_a_fixed_order() -> None:
    findings = SafetyFindings(
        overlaps=(("10.0.0.0/16", "10.0.0.0/24"), ("2600:1f18::/56", "2600:1f18::/64")),
        duplicates=("pcx-aaaaaaaa",),
        quota_exhausted=("vpc-a (50 active)",),
    )
    assert findings.must_reject
    assert findings.reasons(50) == (
        "CIDR overlap between the VPCs: 10.0.0.0/16 overlaps 10.0.0.0/24, 2600:1f18::/56 overlaps 2600:1f18::/64",
        "another live connection already joins these VPCs: pcx-aaaaaaaa",
        "no headroom under the active peerings quota (50 per VPC) for vpc-a (50 active)",
    )


@pytest.mark.parametrize(
    ("findings", "must_reject"),
    [
        (SafetyFindings((("a", "b"),), (), ()), True),
        (SafetyFindings((), ("pcx-1",), ()), True),
        (SafetyFindings((), (), ("vpc-a (1 active)",)), False),
        (SafetyFindings((), (), ()), False),
    ],
)
def test_must_reject_only_for_overlaps_and_duplicates(findings: SafetyFindings, must_reject: bool) -> None:
    assert findings.must_reject is must_reject
