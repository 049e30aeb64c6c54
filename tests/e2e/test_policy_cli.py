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
