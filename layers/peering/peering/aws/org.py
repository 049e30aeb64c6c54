"""Organizations look-ups for the policy: the hub's organization and a requester's OU path.

Answers are cached for a few minutes across warm invocations: the organization's shape changes
rarely, and Organizations' API is throttled hard (a few calls per second per organization).
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from peering.aws.clients import AwsClients
from peering.core.models import RequesterIdentity
from peering.runtime.observability import MetricUnit, logger, metrics

CACHE_SECONDS = 300
_NOT_IN_ORG = {"AWSOrganizationsNotInUseException", "AccountNotFoundException", "AccessDeniedException"}

_cache: dict[tuple[str, ...], tuple[float, Any]] = {}


def clear_cache() -> None:
    _cache.clear()


def _cached(key: tuple[str, ...], load: Any) -> Any:
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    value = load()
    _cache[key] = (now, value)
    return value


class OrganizationDirectory:
    def __init__(self, aws: AwsClients) -> None:
        self._aws = aws

    def _org(self) -> Any:
        return self._aws.hub("organizations")

    def hub_org_id(self) -> str | None:
        def load() -> str | None:
            try:
                return str(self._org().describe_organization()["Organization"]["Id"])
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code == "AccessDeniedException":
                    # Rules by OU or organization then never match (requests are held, not
                    # accepted): make the missing delegation visible rather than silent.
                    logger.warning(
                        "Organizations is not readable from the hub: delegate it (docs/deploy.md)",
                        extra={"error": str(exc)},
                    )
                    metrics.add_metric(name="OrganizationsAccessDenied", unit=MetricUnit.Count, value=1)
                    return None
                if code in _NOT_IN_ORG:
                    logger.info("hub account is not in an organization", extra={"error": str(exc)})
                    return None
                raise

        result: str | None = _cached(("org", self._aws.own_account), load)
        return result

    def identify(self, account: str, region: str) -> RequesterIdentity:
        """The account's organization and OU path, or no organization when it is not a member."""
        org_id = self.hub_org_id()
        if org_id is None:
            return RequesterIdentity(account=account, region=region)

        def load() -> tuple[str, ...] | None:
            try:
                self._org().describe_account(AccountId=account)
            except ClientError as exc:
                if exc.response["Error"]["Code"] in _NOT_IN_ORG:
                    return None
                raise
            path: list[str] = []
            child = account
            while True:
                parents = self._org().list_parents(ChildId=child)["Parents"]
                if not parents or parents[0]["Type"] == "ROOT":
                    if parents:
                        path.append(parents[0]["Id"])
                    break
                child = parents[0]["Id"]
                path.append(child)
            return tuple(reversed(path))

        ou_path: tuple[str, ...] | None = _cached(("account", org_id, account), load)
        if ou_path is None:
            return RequesterIdentity(account=account, region=region)
        return RequesterIdentity(account=account, region=region, org_id=org_id, ou_path=ou_path)

    def member_state(self, account: str) -> str | None:
        """The account's state in the hub's organization (``State``, else the older ``Status``:
        ACTIVE, SUSPENDED, PENDING_CLOSURE, ...), or None when it is not a member or there is no
        organization. One DescribeAccount, cached: the sweep's worker asks it for every account it
        sweeps, so a sweep of 1,000 accounts costs 1,000 calls every CACHE_SECONDS at most."""
        org_id = self.hub_org_id()
        if org_id is None:
            return None

        def load() -> str | None:
            try:
                described = self._org().describe_account(AccountId=account)["Account"]
            except ClientError as exc:
                if exc.response["Error"]["Code"] in _NOT_IN_ORG:
                    return None
                raise
            return str(described.get("State") or described.get("Status") or "ACTIVE")

        state: str | None = _cached(("member", org_id, account), load)
        return state

    def account_label(self, account: str) -> tuple[str, str]:
        """(the account's name, its parent OU's name, "Root" or "") for a person to read (the map).
        Cached like the rest: per account, and per OU for the OU's name (many accounts share one),
        so a sweep of the organization asks Organizations once per account, not per Region.
        Raises ClientError when Organizations does not answer (nothing is cached then)."""
        org_id = self.hub_org_id()
        if org_id is None:
            return "", ""

        def unit_name(unit_id: str) -> str:
            def load() -> str:
                unit = self._org().describe_organizational_unit(OrganizationalUnitId=unit_id)
                return str(unit["OrganizationalUnit"].get("Name") or unit_id)

            name: str = _cached(("ou-name", org_id, unit_id), load)
            return name

        def load() -> tuple[str, str]:
            name = str(self._org().describe_account(AccountId=account)["Account"].get("Name", ""))
            parents = self._org().list_parents(ChildId=account)["Parents"]
            if not parents:
                return name, ""
            if parents[0]["Type"] != "ORGANIZATIONAL_UNIT":
                return name, "Root"
            return name, unit_name(parents[0]["Id"])

        label: tuple[str, str] = _cached(("label", org_id, account), load)
        return label
