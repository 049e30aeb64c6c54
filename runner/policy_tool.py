"""Policy tooling that needs no AWS account: strict validation with each error's line and column,
and hypothetical requests (a cases file) run through the engine's own evaluation.

A document is read by the engine's strict YAML loader (duplicate keys refused) and validated by
the engine's own schema (``peering.core.policy.PolicyDocument``); each schema error's location
(``rules.2.requester.accounts.0``) is mapped back to the YAML node it came from, whose mark
gives the line and column. A case is decided by ``peering.core.policy.evaluate`` and
``peering.core.plan.decide``, the functions the accept function runs, on the facts the case states.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from peering.core.checks import SafetyFindings
from peering.core.errors import PolicyError
from peering.core.models import RequesterIdentity, RequesterVpc, Vpc
from peering.core.plan import Decision, Outcome, decide
from peering.core.policy import Network, PolicyDocument, Rule, evaluate, parse_policy
from peering.core.policy_yaml import load_strict

ACCOUNT_ID = re.compile(r"^\d{12}$")
VERDICTS = {Outcome.ACCEPTED: "accept", Outcome.REJECTED: "reject", Outcome.HELD: "hold"}
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One error in a document, where a person finds it."""

    line: int | None  # 1-based
    column: int | None
    where: str  # the path in the document (rules.0.action)
    message: str

    def render(self, path: str) -> str:
        place = f"{path}:{self.line}:{self.column}" if self.line is not None else path
        return f"{place}: {self.where + ': ' if self.where else ''}{self.message}"


class DocumentError(Exception):
    """A document that cannot be used, with every problem found in it."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(p.render(path) for p in problems))


def _mark(mark: Any) -> tuple[int | None, int | None]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


def _load(path: str, text: str) -> tuple[Any, yaml.Node | None]:
    """The data (the engine's strict loader) and its node tree (for the marks)."""
    if not text.strip():
        raise DocumentError(path, [Problem(None, None, "", "the document is empty")])
    try:
        data = load_strict(text)
    except ValueError as exc:
        as_json = _json(text)
        if as_json is not None:
            return as_json, None  # JSON that PyYAML cannot read (tab indentation): the engine reads it, no marks
        cause = exc.__cause__
        mark = getattr(cause, "problem_mark", None) or getattr(cause, "context_mark", None)
        problem = getattr(cause, "problem", None) or str(exc)
        raise DocumentError(path, [Problem(*_mark(mark), "", f"not valid YAML/JSON: {problem}")]) from exc
    return data, yaml.compose(text, Loader=yaml.SafeLoader)


def _json(text: str) -> Any:
    """The document as JSON, when it is JSON (the engine reads a document starting with "{" so)."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _node_at(root: yaml.Node | None, loc: tuple[Any, ...], at_key: bool) -> yaml.Node | None:
    """The node an error location names, as deep as the document goes (a missing key: its parent).
    Parts that are not in the document (pydantic's union branch names) are skipped."""
    node = root
    for n, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    last = n == len(loc) - 1
                    node = key if (last and at_key) else value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
    return node


def located_problems(error: ValidationError, root: yaml.Node | None) -> list[Problem]:
    problems = []
    for err in error.errors():
        loc = tuple(err["loc"])
        node = _node_at(root, loc, at_key=err["type"] == "extra_forbidden")
        line, column = _mark(node.start_mark if node is not None else None)
        message = str(err["msg"]).removeprefix("Value error, ")
        problems.append(Problem(line, column, ".".join(str(p) for p in loc), message))
    return problems


def validate(model: type[Model], path: str, text: str, what: str) -> Model:
    data, root = _load(path, text)
    if not isinstance(data, dict):
        line, column = _mark(root.start_mark if root is not None else None)
        raise DocumentError(path, [Problem(line, column, "", f"{what} must be a mapping")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DocumentError(path, located_problems(exc, root)) from exc


def read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(path, [Problem(None, None, "", f"cannot read it: {exc}")]) from exc


def policy_warnings(path: str, text: str, policy: PolicyDocument) -> list[str]:
    """The document's warnings (accept rules open to any account), each with its line and column."""
    try:
        root = None if _json(text) is not None else yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # pragma: no cover - the document validated, so it composes
        root = None
    lines = []
    for n, rule in enumerate(policy.rules):
        if rule.warning is not None:
            node = _node_at(root, ("rules", n, "requester", "anyone"), at_key=True)
            line, column = _mark(node.start_mark if node is not None else None)
            problem = Problem(line, column, f"rules.{n}.requester.anyone", rule.warning)
            lines.append("WARNING: " + problem.render(path))
    return lines


def check_policy(path: str, text: str | None = None) -> PolicyDocument:
    """The policy, validated as the engine validates it. Raises ``DocumentError`` with positions."""
    text = read_text(path) if text is None else text
    document = validate(PolicyDocument, path, text, "the approval policy")
    try:
        parse_policy(text)  # what the functions will run: JSON first, then YAML
    except PolicyError as exc:  # pragma: no cover - the located validation above finds the same
        raise DocumentError(path, [Problem(None, None, "", str(exc))]) from exc
    return document


# --- cases: hypothetical requests and the decision they should get ---------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _account(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"account id {value} must be a quoted string (YAML reads unquoted digits as a number)")
    if isinstance(value, str) and not ACCOUNT_ID.match(value):
        raise ValueError(f"{value!r} is not a 12-digit account id")
    return value


class CaseRequester(_Strict):
    account: str
    region: str = Field(min_length=1)
    organization: str | None = None  # its organization id; none: outside any organization we know
    ou_path: list[str] = Field(default_factory=list, alias="ouPath")  # root first, direct parent last
    # The requester VPC's tags as the engine reads them (in its own account); left out: unknown.
    vpc_tags: dict[str, str] | None = Field(default=None, alias="vpcTags")
    cidr_blocks: list[Network] = Field(default_factory=list, alias="cidrBlocks")  # IPv4 and IPv6

    _account_id = field_validator("account", mode="before")(_account)

    @model_validator(mode="after")
    def _tags_only_when_readable(self) -> CaseRequester:
        if self.vpc_tags is not None and self.organization is None:
            raise ValueError(
                "vpcTags of a requester outside the organization: the engine never reads (or trusts) "
                "them, so a rule naming requester tags never matches it; leave vpcTags out, or give "
                "the requester's organization"
            )
        return self

    def vpc(self) -> RequesterVpc:
        v4, v6 = _by_version(self.cidr_blocks)
        return RequesterVpc("vpc-case-requester", v4, v6, self.vpc_tags)


class CaseAccepter(_Strict):
    account: str
    vpc_id: str = Field(alias="vpcId", min_length=1)
    tags: dict[str, str] = Field(default_factory=dict)  # the accepter VPC's tags
    region: str | None = None
    cidr_blocks: list[Network] = Field(default_factory=list, alias="cidrBlocks")  # IPv4 and IPv6

    _account_id = field_validator("account", mode="before")(_account)


def _by_version(blocks: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(IPv4 blocks, IPv6 blocks) of a case's ``cidrBlocks``, as EC2 lists them apart."""
    v4 = tuple(b for b in blocks if ipaddress.ip_network(b).version == 4)
    return v4, tuple(b for b in blocks if b not in v4)


class CaseFacts(_Strict):
    """What the safety checks would see (from EC2) for this request."""

    overlap: bool = False  # the two VPCs' blocks overlap
    duplicate: bool = False  # another live connection joins the same two VPCs
    quota_headroom: bool = Field(default=True, alias="quotaHeadroom")  # room under the active-peerings quota


class Expectation(_Strict):
    decision: Literal["accept", "reject", "hold"]
    rule: str | None = None  # the deciding rule; null: no rule matched; left out: not checked


class Case(_Strict):
    name: str = Field(min_length=1)
    description: str | None = None
    requester: CaseRequester
    accepter: CaseAccepter
    checks: CaseFacts = Field(default_factory=CaseFacts)
    expect: Expectation | None = None  # required by ``policy test``, ignored by ``policy diff``


class CasesFile(_Strict):
    hub_organization: str | None = Field(default=None, alias="hubOrganization")  # what "organization: self" means
    active_peerings_quota: int = Field(default=50, ge=1, alias="activePeeringsQuota")
    cases: list[Case] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> CasesFile:
        names = [c.name for c in self.cases]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"case names must be unique: {', '.join(duplicates)}")
        return self


def load_cases(path: str) -> CasesFile:
    return validate(CasesFile, path, read_text(path), "the cases file")


def decide_case(policy: PolicyDocument, case: Case, cases: CasesFile) -> Decision:
    """The decision the accept function would make for this request, on the facts the case states."""
    req, acc = case.requester, case.accepter
    who = RequesterIdentity(req.account, req.region, req.organization, tuple(req.ou_path))
    v4, v6 = _by_version(acc.cidr_blocks)
    vpc = Vpc(acc.account, acc.region or req.region, acc.vpc_id, v4, v6, tags=dict(acc.tags))
    verdict = evaluate(policy, who, vpc, cases.hub_organization, req.vpc())
    facts = case.checks
    findings = SafetyFindings(
        overlaps=(("the accepter VPC", "the requester VPC"),) if facts.overlap else (),
        duplicates=("another connection",) if facts.duplicate else (),
        quota_exhausted=() if facts.quota_headroom else (f"{acc.vpc_id} (no headroom)",),
    )
    return decide(verdict, findings, cases.active_peerings_quota)


@dataclass(frozen=True)
class CaseResult:
    case: Case
    decision: Decision

    @property
    def verdict(self) -> str:
        return VERDICTS[self.decision.outcome]

    @property
    def expected(self) -> str:
        expect = self.case.expect
        if expect is None:
            return "-"
        rule = ""
        if "rule" in expect.model_fields_set:
            rule = f" by {expect.rule}" if expect.rule else " by no rule"
        return expect.decision + rule

    @property
    def passed(self) -> bool:
        expect = self.case.expect
        if expect is None or expect.decision != self.verdict:
            return False
        return "rule" not in expect.model_fields_set or expect.rule == self.decision.rule


def run_cases(policy: PolicyDocument, cases: CasesFile, cases_path: str) -> list[CaseResult]:
    """Every case decided; a case without expectations or naming an unknown rule is an error."""
    known = {rule.name for rule in policy.rules}
    problems = []
    for n, case in enumerate(cases.cases):
        if case.expect is None:
            problems.append(Problem(None, None, f"cases.{n}", f"case {case.name!r} has no expect"))
        elif case.expect.rule is not None and case.expect.rule not in known:
            problems.append(
                Problem(
                    None,
                    None,
                    f"cases.{n}.expect.rule",
                    f"case {case.name!r} expects rule {case.expect.rule!r}, which policy "
                    f"{policy.version} does not have (it has: {', '.join(sorted(known)) or 'no rules'})",
                )
            )
    if problems:
        raise DocumentError(cases_path, problems)
    return [CaseResult(case, decide_case(policy, case, cases)) for case in cases.cases]


def _criteria(rule: Rule) -> dict[str, Any]:
    """What decides a rule's outcome, by dotted field (requester.vpcTags, accepter.within...)."""
    dumped = rule.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"name", "description"})
    flat: dict[str, Any] = {}
    for key, value in dumped.items():
        if key in ("requester", "accepter"):
            flat.update({f"{key}.{field}": item for field, item in value.items()})
        else:
            flat[key] = value
    return flat


def rule_changes(old: PolicyDocument, new: PolicyDocument) -> list[tuple[str, str, str]]:
    """(change, rule name, what) for every rule added, removed, or changed in what decides its outcome
    (its action, a requester or accepter criterion, its routing); a renamed rule is removed + added."""
    before = {rule.name: rule for rule in old.rules}
    after = {rule.name: rule for rule in new.rules}
    changes = [("removed", name, "") for name in before if name not in after]
    changes += [("added", name, "") for name in after if name not in before]
    for name in (n for n in after if n in before):
        was, now = _criteria(before[name]), _criteria(after[name])
        fields = [key for key in dict.fromkeys([*was, *now]) if was.get(key) != now.get(key)]
        if fields:
            changes.append(("changed", name, ", ".join(fields)))
    return changes


def decision_label(decision: Decision) -> str:
    return f"{VERDICTS[decision.outcome]} by {decision.rule or 'no rule'}"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)
