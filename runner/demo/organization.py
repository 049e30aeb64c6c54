"""The demo's organization (the hub, network-a in the platform OU, analytics-b in the workloads OU),
its approval policy, and the members' sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

from emulation.server import EmulationError
from runner.demo.stage import ADMIN_ROLE, HUB_REGION, PLATFORM_ACCOUNT, WORKLOADS_ACCOUNT


def _policy(platform_ou: str, sandbox_ou: str, hub: str) -> str:
    return f"""schemaVersion: 1
version: demo-1
rules:
  - name: platform-into-opted-in-vpcs
    action: accept
    requester:
      organization: self
      organizationalUnits: [{platform_ou}]
    accepter:
      vpcTag: {{key: "peering-autopilot:accept", value: "true"}}
  - name: hub-internal
    action: accept
    requester:
      accounts: ["{hub}"]
    accepter:
      accounts: ["{hub}"]
  - name: no-sandbox
    action: reject
    requester:
      organizationalUnits: [{sandbox_ou}]
"""


def _organization(orgs: Any, hub: str, names: dict[str, str], say: Callable[[str], None]) -> dict[str, str]:
    """The hub creates an organization with three OUs and two member accounts."""
    org_id = str(orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"])
    root = str(orgs.list_roots()["Roots"][0]["Id"])
    ous = {
        name: str(orgs.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"]["Id"])
        for name in ("platform", "workloads", "sandbox")
    }
    members = (("network-a", "platform", PLATFORM_ACCOUNT), ("analytics-b", "workloads", WORKLOADS_ACCOUNT))
    for name, ou, expected in members:
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        account = str(status["AccountId"])
        if account != expected:
            raise EmulationError(f"the emulator gave account {account} to {name}, expected {expected}")
        orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ous[ou])
        names[account] = name
    say(f"   organization {org_id}, root {root}")
    say(f"   {hub} hub (management account, where the stack runs)")
    say(f"   {PLATFORM_ACCOUNT} network-a   in OU platform  {ous['platform']}")
    say(f"   {WORKLOADS_ACCOUNT} analytics-b in OU workloads {ous['workloads']}")
    say(f"   (OU sandbox {ous['sandbox']} is empty)")
    return {"org": org_id, **ous}


def _member_session(hub_session: Any, account: str) -> Any:
    creds = hub_session.client("sts", region_name=HUB_REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ADMIN_ROLE}", RoleSessionName="demo-person"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=HUB_REGION,
    )
