"""The approval policy: a versioned YAML/JSON document, validated, evaluated purely.

Semantics (see docs/policy.md):
- a rule matches when every criterion it names matches (a list matches any of its items, except
  ``vpcTags``: every tag listed, and ``within``: every block of the VPC in one of the ranges);
- among matching rules, ``reject`` wins over ``hold``, which wins over ``accept``;
- no matching rule means ``hold``: nothing unknown is ever accepted (peer phishing).
"""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from peering.core.cleanup_plan import CleanupOptions

# The verdict types live apart so that planning and the handlers import them without pydantic.
from peering.core.decision import PolicyDecision, Verdict, unavailable_policy_decision  # noqa: F401 - still offered here
from peering.core.errors import PolicyError
from peering.core.models import RequesterIdentity, RequesterVpc, Vpc
from peering.core.routing import DestinationScope, RouteManagement, RoutingOptions, TableSelection
from peering.core.scope import AdoptionCandidate
from peering.core.text import escaped, is_hidden

SCHEMA_VERSION = 1
ACCOUNT_ID = re.compile(r"^\d{12}$")
ROUTE_TABLE_ID = re.compile(r"rtb-(?:[0-9a-f]{8}|[0-9a-f]{17})")


# Strength when several rules match: an explicit deny always wins.
_PRECEDENCE = {Verdict.REJECT: 0, Verdict.HOLD: 1, Verdict.ACCEPT: 2}

# No text of the document may hold a hidden character (core/text.py): the version, rule names
# and descriptions reach notification e-mails, tags and logs, where a newline or a bidi override
# lets a policy author plant text that reads like something else (a fake command line).


def _plain_text(value: str) -> str:
    for position, character in enumerate(value):
        if is_hidden(character):
            name = unicodedata.name(character, "a control character")
            raise ValueError(
                f"character {position + 1} is U+{ord(character):04X} ({name}): text in a policy must be "
                "one line of visible characters (no control, bidi or zero-width characters; a YAML "
                "folded scalar '>-' joins long text into one line)"
            )
    return value


#: Every free string of the document: refused when it holds a control or format character.
Text = Annotated[str, AfterValidator(_plain_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)


class TagMatch(_Strict):
    key: Text = Field(min_length=1)
    value: Text | None = None  # None: the key being present is enough


def _quoted_account_ids(value: Any) -> Any:
    """YAML reads unquoted digits as a number (with a leading 0, even as octal): refuse it clearly."""
    if isinstance(value, list):
        for account in value:
            if isinstance(account, int) and not isinstance(account, bool):
                raise ValueError(
                    f"account id {account} must be a quoted string (YAML reads unquoted digits as a number)"
                )
    return value


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a network (an IPv4 or IPv6 CIDR block, host bits zero): {exc}") from exc
    return value


#: A CIDR range of ``within``: a network with its host bits zero (10.0.0.0/8, not 10.0.0.1/8).
Network = Annotated[str, AfterValidator(_network)]


class _MatchesAccounts(_Strict):
    """A match with an ``accounts`` list: quoted 12-digit ids only (YAML reads bare ids as numbers),
    and ``within``: CIDR ranges that hold every block of the VPC."""

    accounts: list[Text] | None = None
    within: list[Network] | None = None

    @field_validator("accounts", mode="before")
    @classmethod
    def _accounts_are_strings(cls, value: Any) -> Any:
        return _quoted_account_ids(value)

    @field_validator("accounts")
    @classmethod
    def _accounts_are_ids(cls, value: list[str] | None) -> list[str] | None:
        for account in value or []:
            if not ACCOUNT_ID.match(account):
                raise ValueError(f"{account!r} is not a 12-digit account id")
        return value


class RequesterMatch(_MatchesAccounts):
    organizational_units: list[Text] | None = Field(default=None, alias="organizationalUnits")
    organization: Text | None = None  # an organization id, or "self" for the hub's organization
    regions: list[Text] | None = None
    # The deliberate "any account in the world": an accept rule must name who may ask, and this
    # is how it says "anyone" (policy check warns about it).
    anyone: bool | None = Field(default=None, strict=True)  # true only, never "yes" or 1
    # Tags of the requester VPC, all of them (a tag selector): trusted only when read in the
    # requester's own account, so never matched for a requester outside the organization.
    vpc_tags: list[TagMatch] | None = Field(default=None, alias="vpcTags")

    @field_validator("anyone")
    @classmethod
    def _anyone_is_true(cls, value: bool | None) -> bool | None:
        if value is False:
            raise ValueError("anyone: false means nothing; leave it out and name accounts, OUs or an organization")
        return value

    @model_validator(mode="after")
    def _anyone_alone(self) -> RequesterMatch:
        if self.anyone and self.names_who:
            raise ValueError(
                "anyone: true matches every account: it cannot be combined with accounts, "
                "organizationalUnits or organization (regions and within may still narrow it)"
            )
        if self.anyone and self.vpc_tags is not None:
            raise ValueError(
                "anyone: true cannot be combined with vpcTags: the tags of a requester outside the "
                "organization are never trusted, so the rule would match only the organization; "
                "say organization: self instead"
            )
        return self

    @property
    def names_who(self) -> bool:
        """It names who may ask: accounts, OUs or an organization."""
        return self.accounts is not None or self.organizational_units is not None or self.organization is not None


class AccepterMatch(_MatchesAccounts):
    vpc_ids: list[Text] | None = Field(default=None, alias="vpcIds")
    vpc_tag: TagMatch | None = Field(default=None, alias="vpcTag")


def _route_table_id(value: str) -> str:
    if not ROUTE_TABLE_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a route table id (rtb- and 8 or 17 hexadecimal digits)")
    return value


#: A route table id as EC2 writes it: refused otherwise, at its own line and column.
RouteTableId = Annotated[str, AfterValidator(_route_table_id)]


class RouteTablesSelection(_Strict):
    select: TableSelection = TableSelection.ALL
    tag: TagMatch | None = None  # required for "tagged" and "subnets"
    ids: list[RouteTableId] | None = Field(default=None, min_length=1)  # required for "ids", of either side

    @model_validator(mode="after")
    def _what_the_selection_needs(self) -> RouteTablesSelection:
        by_tag = (TableSelection.TAGGED, TableSelection.SUBNETS)
        if self.select in by_tag and self.tag is None:
            raise ValueError(f"routeTables.select {self.select.value!r} needs routeTables.tag")
        if self.select is TableSelection.IDS and self.ids is None:
            raise ValueError("routeTables.select 'ids' needs routeTables.ids (the route tables of either side)")
        if self.ids is not None and self.select is not TableSelection.IDS:
            raise ValueError(f"routeTables.ids goes with select 'ids' (select is {self.select.value!r})")
        return self


class RoutingSection(_Strict):
    """How an active connection is wired: which blocks, which route tables, DNS.

    The document's section applies to every connection; an accept rule's own section overrides
    the fields it names for the connections that rule accepted (``over``).
    """

    ipv6: bool = False
    exclude_cidrs: list[Text] = Field(default_factory=list, alias="excludeCidrs")
    route_tables: RouteTablesSelection = Field(default_factory=RouteTablesSelection, alias="routeTables")
    dns_resolution: bool = Field(default=True, alias="dnsResolution")
    destinations: DestinationScope = DestinationScope.VPC
    destination_tag: TagMatch | None = Field(default=None, alias="destinationTag")  # required for "subnets"
    routes: RouteManagement = RouteManagement.MANAGED

    @field_validator("exclude_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for block in value:
            try:
                ipaddress.ip_network(block, strict=False)
            except ValueError as exc:
                raise ValueError(f"{block!r} is not a CIDR block") from exc
        return value

    @model_validator(mode="after")
    def _tag_when_needed(self) -> RoutingSection:
        if self.destinations is DestinationScope.SUBNETS and self.destination_tag is None:
            raise ValueError("destinations 'subnets' needs destinationTag (the tag of the subnets to route to)")
        return self

    @property
    def reads_subnets(self) -> bool:
        by_subnet = self.route_tables.select is TableSelection.SUBNETS or self.destinations is DestinationScope.SUBNETS
        return self.routes is RouteManagement.MANAGED and by_subnet

    def over(self, document: RoutingSection) -> RoutingSection:
        """A rule's section over the document's: the fields the rule names win, the others fall back."""
        return document.model_copy(update={name: getattr(self, name) for name in self.model_fields_set})

    def to_options(self, base: RoutingOptions, source: str = "") -> RoutingOptions:
        tag = self.route_tables.tag
        destination_tag = self.destination_tag
        return replace(
            base,
            ipv6=self.ipv6,
            exclude=tuple(self.exclude_cidrs),
            selection=self.route_tables.select,
            tag_key=tag.key if tag else None,
            tag_value=tag.value if tag else None,
            table_ids=tuple(dict.fromkeys(self.route_tables.ids or ())),
            dns_resolution=self.dns_resolution,
            destinations=self.destinations,
            destination_tag_key=destination_tag.key if destination_tag else None,
            destination_tag_value=destination_tag.value if destination_tag else None,
            routes=self.routes,
            source=source,
        )


class Rule(_Strict):
    name: Text = Field(min_length=1)
    action: Verdict
    requester: RequesterMatch = RequesterMatch()
    accepter: AccepterMatch = AccepterMatch()
    description: Text | None = None
    routing: RoutingSection | None = None  # accept rules only: how the connections it accepts are wired

    @model_validator(mode="after")
    def _routing_only_when_accepting(self) -> Rule:
        if self.routing is not None and self.action is not Verdict.ACCEPT:
            raise ValueError(f"routing applies to accept rules only (rule {self.name!r} says {self.action.value})")
        return self

    @model_validator(mode="after")
    def _accept_names_the_requester(self) -> Rule:
        # Without it, one line ("action: accept") or an accepter-only rule (a VPC tag) would accept
        # a request from any AWS account in the world: peer phishing by omission.
        if self.action is Verdict.ACCEPT and not (self.requester.names_who or self.requester.anyone):
            raise ValueError(
                f"accept rule {self.name!r} must say who may ask: requester.accounts, "
                "requester.organizationalUnits or requester.organization (to accept any AWS account "
                "in the world, say requester: {anyone: true})"
            )
        return self

    @property
    def accepts_anyone(self) -> bool:
        """An accept rule open to every AWS account (``requester.anyone``)."""
        return self.action is Verdict.ACCEPT and bool(self.requester.anyone)

    @property
    def warning(self) -> str | None:
        """What validates but deserves a loud warning: an accept rule open to any AWS account."""
        if not self.accepts_anyone:
            return None
        return (
            f"rule {self.name!r} accepts peering requests from ANY AWS account in the world "
            "(requester.anyone: true); anyone who learns a matching VPC id can get a network path into it"
        )


class CleanupSection(_Strict):
    """What to do with what dead connections and unanswered requests leave behind."""

    revoke_stale_security_group_rules: bool = Field(default=False, alias="revokeStaleSecurityGroupRules")
    # Requests we sent are withdrawn after this (they expire after 168 h anyway).
    pending_request_max_age_hours: int = Field(default=72, ge=1, le=167, alias="pendingRequestMaxAgeHours")
    # Remind people this many hours before a held request ends (expiry at 168 h, or our withdrawal), once each.
    remind_before_expiry_hours: list[int] = Field(default_factory=lambda: [24], alias="remindBeforeExpiryHours")

    @field_validator("remind_before_expiry_hours")
    @classmethod
    def _reminder_points(cls, value: list[int]) -> list[int]:
        for hours in value:
            if not 1 <= hours <= 167:
                raise ValueError(f"a reminder {hours} h before expiry is outside 1..167 (a request lives 168 h)")
        if len(set(value)) != len(value):
            raise ValueError(f"reminder hours must be unique, got {value}")
        return value

    def to_options(self) -> CleanupOptions:
        return CleanupOptions(
            revoke_stale_security_group_rules=self.revoke_stale_security_group_rules,
            pending_request_max_age_hours=self.pending_request_max_age_hours,
            remind_before_expiry_hours=tuple(sorted(self.remind_before_expiry_hours, reverse=True)),
        )


class AdoptEntry(_MatchesAccounts):
    """One entry of ``adopt.connections``: it adopts a connection when every field it names
    matches (a list matches any of its items). Only a connection the autopilot does not manage
    already (one that existed before it) is adopted."""

    organizational_units: list[Text] | None = Field(default=None, alias="organizationalUnits")
    vpc_tag: TagMatch | None = Field(default=None, alias="vpcTag")
    all: bool | None = Field(default=None, strict=True)  # true only: every connection

    @field_validator("all")
    @classmethod
    def _all_is_true(cls, value: bool | None) -> bool | None:
        if value is False:
            raise ValueError("all: false means nothing; leave it out and name accounts, OUs or a VPC tag")
        return value

    @model_validator(mode="after")
    def _names_something(self) -> AdoptEntry:
        named = [self.accounts, self.organizational_units, self.vpc_tag]
        if self.all and any(field is not None for field in named):
            raise ValueError("all: true adopts every connection: it cannot be combined with other fields")
        if not self.all and all(field is None for field in named):
            raise ValueError("an adopt entry must name accounts, organizationalUnits, vpcTag, or all: true")
        return self

    def matches(self, candidate: AdoptionCandidate) -> str | None:
        """Why this entry adopts the candidate (either side's account, OU or VPC), or None."""
        if self.all:
            return "all: true"
        reasons = []
        if self.accounts is not None:
            found = [a for a in candidate.accounts if a in self.accounts]
            if not found:
                return None
            reasons.append(f"account {found[0]}")
        if self.organizational_units is not None:
            units = {u for account in candidate.accounts for u in candidate.ou_paths.get(account, ())}
            found = sorted(units & set(self.organizational_units))
            if not found:
                return None
            reasons.append(f"OU {found[0]}")
        if self.vpc_tag is not None:
            tag = self.vpc_tag
            found = [
                vpc
                for vpc in candidate.vpc_ids
                if tag.key in candidate.vpc_tags.get(vpc, {})
                and (tag.value is None or candidate.vpc_tags[vpc][tag.key] == tag.value)
            ]
            if not found:
                return None
            reasons.append(f"VPC {found[0]} tagged {tag.key}" + (f"={tag.value}" if tag.value is not None else ""))
        return ", ".join(reasons)


class AdoptSection(_Strict):
    """Connections that existed before the autopilot and that it may now change (docs/policy.md)."""

    # Routes to an adopted connection that the autopilot did not install: left alone, or taken over.
    take_over_routes: bool = Field(default=False, alias="takeOverRoutes", strict=True)
    connections: list[AdoptEntry] = Field(default_factory=list)

    @field_validator("connections", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @property
    def names_units(self) -> bool:
        """Some entry matches on OUs: the accounts' OU paths must be read."""
        return any(entry.organizational_units is not None for entry in self.connections)

    def adopts(self, candidate: AdoptionCandidate) -> str | None:
        """Why the section adopts the candidate (the first entry that matches), or None."""
        for n, entry in enumerate(self.connections):
            reason = entry.matches(candidate)
            if reason is not None:
                return f"adopt entry {n + 1} ({reason})"
        return None


class PolicyDocument(_Strict):
    schema_version: int = Field(alias="schemaVersion")
    version: Text = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)
    routing: RoutingSection = Field(default_factory=RoutingSection)
    cleanup: CleanupSection = Field(default_factory=CleanupSection)
    adopt: AdoptSection = Field(default_factory=AdoptSection)

    @field_validator("schema_version", mode="before")
    @classmethod
    def _schema_is_a_number(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"schemaVersion must be the number {SCHEMA_VERSION}, not {value}")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        # "version: 7" and "version: 2024-06-01" are natural in YAML but load as int / date.
        if isinstance(value, int | date) and not isinstance(value, bool):
            return value.isoformat() if isinstance(value, date) else str(value)
        return value

    @field_validator("rules", mode="before")
    @classmethod
    def _no_rules_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value  # "rules:" with nothing under it: hold everything

    @field_validator("schema_version")
    @classmethod
    def _known_schema(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"schemaVersion {value} is not supported (expected {SCHEMA_VERSION})")
        return value

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[Rule]) -> list[Rule]:
        names = [r.name for r in rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique: {', '.join(duplicates)}")
        return rules

    def warnings(self) -> list[str]:
        """What validates but deserves a loud warning: accept rules open to any AWS account."""
        return [rule.warning for rule in self.rules if rule.warning is not None]

    @property
    def has_rule_routing(self) -> bool:
        """Some rule carries its own routing: a connection's routing then depends on its rule."""
        return any(rule.routing is not None for rule in self.rules)

    @property
    def reads_subnets(self) -> bool:
        """The document's routing or a rule's needs the VPCs' subnets."""
        sections = [self.routing] + [r.routing.over(self.routing) for r in self.rules if r.routing is not None]
        return any(section.reads_subnets for section in sections)

    def adopts(self, candidate: AdoptionCandidate) -> str | None:
        """Why the policy adopts a connection that existed before the autopilot, or None."""
        reason = self.adopt.adopts(candidate)
        return f"{reason} of policy {self.version}" if reason is not None else None

    def adopted_routing(self, base: RoutingOptions) -> RoutingOptions:
        """The routing of an adopted connection: the document's, taking over foreign routes when
        ``adopt.takeOverRoutes`` says so."""
        options = self.routing_options(None, base)
        return replace(options, take_over_foreign_routes=self.adopt.take_over_routes)

    def routing_options(self, rule_name: str | None, base: RoutingOptions) -> RoutingOptions:
        """The routing of a connection accepted by rule ``rule_name`` (None: not accepted by a rule
        of this system): the rule's own section over the document's, or the document's."""
        rule = next((r for r in self.rules if r.name == rule_name), None) if rule_name else None
        if rule is not None and rule.routing is not None:
            return rule.routing.over(self.routing).to_options(base, f"rule {rule.name!r} (policy {self.version})")
        source = f"the policy document (policy {self.version})"
        if rule_name and rule is None:
            source += f"; its rule {rule_name!r} is no longer in the policy"
        return self.routing.to_options(base, source)


def _yaml(text: str) -> Any:
    from peering.core.policy_yaml import load_strict  # noqa: PLC0415 - PyYAML only for documents that are YAML

    return load_strict(text)


def _load(text: str) -> Any:
    """JSON when it looks like JSON, else YAML; a YAML flow mapping ({key: value}) also starts with "{"."""
    if not text.lstrip().startswith("{"):
        return _yaml(text)
    try:
        return json.loads(text)
    except ValueError as json_error:
        try:
            return _yaml(text)
        except ValueError:
            raise json_error from None


def parse_policy(text: str | None) -> PolicyDocument:
    """Parse and validate a policy document (YAML or JSON). Raises ``PolicyError``."""
    if text is None or not text.strip():
        raise PolicyError("the approval policy is empty or missing")
    try:
        raw = _load(text)
    except ValueError as exc:
        # YAML quotes the offending lines of the document: escaped, one line, as for the keys below.
        raise PolicyError(f"the approval policy is not valid YAML/JSON: {escaped(str(exc))}") from exc
    if not isinstance(raw, dict):
        raise PolicyError("the approval policy must be a mapping with schemaVersion, version, rules")
    try:
        return PolicyDocument.model_validate(raw)
    except ValidationError as exc:
        # Keys come from the document: escaped, as a message may reach a notification.
        problems = "; ".join(
            f"{escaped('.'.join(str(p) for p in err['loc'])) or '(root)'}: {escaped(err['msg'])}"
            for err in exc.errors()
        )
        raise PolicyError(f"the approval policy is invalid: {problems}") from exc


def _tagged(tags: Mapping[str, str], wanted: TagMatch) -> bool:
    return wanted.key in tags and (wanted.value is None or tags[wanted.key] == wanted.value)


def _all_within(ranges: list[str], blocks: tuple[str, ...]) -> bool:
    """Every block lies in one of the ranges; no block known is no match (never vacuously true)."""
    networks = [ipaddress.ip_network(r) for r in ranges]
    for block in blocks:
        net = ipaddress.ip_network(block, strict=False)
        if not any(net.version == r.version and net.subnet_of(r) for r in networks):  # type: ignore[arg-type]
            return False
    return bool(blocks)


def _requester_matches(
    match: RequesterMatch, who: RequesterIdentity, vpc: RequesterVpc | None, hub_org_id: str | None
) -> bool:
    if match.accounts is not None and who.account not in match.accounts:
        return False
    if match.regions is not None and who.region not in match.regions:
        return False
    if match.vpc_tags is not None:
        tags = vpc.tags if vpc is not None else None
        if tags is None or not all(_tagged(tags, wanted) for wanted in match.vpc_tags):
            return False  # unknown tags (outside the organization) match no tag criterion
    if match.within is not None:
        blocks = (*vpc.cidr_blocks, *vpc.ipv6_cidr_blocks) if vpc is not None else ()
        if not _all_within(match.within, blocks):
            return False
    if match.organization is not None:
        wanted = hub_org_id if match.organization == "self" else match.organization
        if wanted is None or who.org_id != wanted:
            return False
    # Any OU on the path from the root to the account matches (OUs nest).
    return match.organizational_units is None or bool(set(match.organizational_units) & set(who.ou_path))


def _accepter_matches(match: AccepterMatch, vpc: Vpc) -> bool:
    if match.accounts is not None and vpc.account not in match.accounts:
        return False
    if match.vpc_ids is not None and vpc.vpc_id not in match.vpc_ids:
        return False
    if match.vpc_tag is not None and not _tagged(vpc.tags, match.vpc_tag):
        return False
    return match.within is None or _all_within(match.within, (*vpc.cidr_blocks, *vpc.ipv6_cidr_blocks))


def evaluate(
    policy: PolicyDocument,
    requester: RequesterIdentity,
    accepter_vpc: Vpc,
    hub_org_id: str | None,
    requester_vpc: RequesterVpc | None = None,
) -> PolicyDecision:
    """Pure: which verdict the policy gives this request, and why. ``requester_vpc`` None: nothing
    is known of the requester VPC (no ``vpcTags`` or ``within`` criterion matches it)."""
    matched = [
        rule
        for rule in policy.rules
        if _requester_matches(rule.requester, requester, requester_vpc, hub_org_id)
        and _accepter_matches(rule.accepter, accepter_vpc)
    ]
    if not matched:
        reasons = [
            f"no rule of policy {policy.version} matches requester {requester.account} "
            f"({requester.region}) for {accepter_vpc.vpc_id}: held by default"
        ]
        on_tags = [r.name for r in policy.rules if r.requester.vpc_tags is not None]
        if on_tags and (requester_vpc is None or requester_vpc.tags is None):
            reasons.append(
                "the requester VPC's tags cannot be read in its account (outside the organization), "
                f"so no rule on them matches ({', '.join(repr(n) for n in on_tags)})"
            )
        return PolicyDecision(Verdict.HOLD, tuple(reasons), None, policy.version)
    winner = min(matched, key=lambda r: _PRECEDENCE[r.action])  # first of the strongest verdict
    reasons = [f"rule {winner.name!r} says {winner.action.value}"]
    overridden = [r.name for r in matched if r.action != winner.action]
    if overridden:
        reasons.append(f"it overrides {', '.join(repr(n) for n in overridden)}")
    return PolicyDecision(winner.action, tuple(reasons), winner.name, policy.version)
