"""Benchmark: cold start of each handler against a bare ``import boto3``, in the deployed layout.

A Lambda cold start runs the handler module's imports before the first event. This measures
exactly that part, whole processes on the runtime's Python (3.13):

- the layer is built by its own Makefile (the same recipe ``sam build`` runs), for this machine's
  platform instead of arm64, into ``opt/python``; each function's ``app.py`` goes to ``task/``;
- boto3 and botocore, which the Lambda runtime provides, are installed beside them, compiled like
  the runtime's own copy;
- each run is one fresh interpreter: ``import app`` (the handler) and ``import boto3`` (the floor)
  alternate, pair after pair, and the figure is the median of the per-pair ratios, so a machine
  that slows down for a while slows both sides of a pair.

The layer is measured twice: as shipped (bytecode compiled by the build when a python3.13 is
found) and as sources only (what every cold start paid before the build compiled it).

The policy's models (pydantic) are imported by the first read of the policy, not by the handler.
So that moving them is not counted as saving them, the accept function, which evaluates the
policy for every request, is also measured as its import plus the first parse of a policy
(policy/example-policy.yaml, published as JSON).
Run with ``make bench`` (all benchmarks) or ``python scripts/bench_coldstart.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("accept", "operator", "configure", "cleanup", "sweep", "worker")
#: pairs of runs per handler: enough for a stable median on a busy two-core machine
PAIRS = int(os.environ.get("COLDSTART_PAIRS", "11"))
#: what the functions' environment sets at import time (the handlers read the rest per event)
ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "POWERTOOLS_SERVICE_NAME": "peering-autopilot",
    "POWERTOOLS_METRICS_NAMESPACE": "PeeringAutopilot",
    "LEDGER_TABLE": "bench",
    "TOPIC_ARN": "arn:aws:sns:us-east-1:111111111111:bench",
    "POLICY_PARAMETER": "/bench/policy",
}


#: the first invocation's policy work, after ``import app`` (the policy published as JSON)
FIRST_PARSE = "from peering.core.policy import parse_policy; parse_policy({text!r})"
FIRST_PARSE_LABEL = "accept, import + first policy parse"


def policy_json() -> str:
    return json.dumps(yaml.safe_load((ROOT / "policy" / "example-policy.yaml").read_text()))


def find_python313() -> str | None:
    """The runtime's interpreter, as the layer's Makefile finds it (its PYTHON313)."""
    command = ["make", "-s", "-C", str(ROOT / "layers" / "peering"), "--eval", "p313:; @echo $(PYTHON313)", "p313"]
    found = subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()
    return found or None


def _pinned(name: str) -> str:
    for line in (ROOT / "requirements" / "dev.txt").read_text().splitlines():
        if line.startswith(f"{name}=="):
            return line.strip()
    raise LookupError(f"{name} is not pinned in requirements/dev.txt")


@dataclass(frozen=True)
class Layout:
    """One deployed layout on disk: the runtime's boto3, the layer, the functions' code."""

    root: Path
    compiled: bool

    @property
    def path(self) -> list[str]:
        return [str(self.root / "runtime"), str(self.root / "opt" / "python")]

    def task(self, function: str) -> Path:
        return self.root / "task" / function


def build_layout(root: Path, python313: str, *, compiled: bool) -> Layout:
    layer = root / "opt"
    platform = f"manylinux2014_{os.uname().machine}"
    subprocess.run(
        [
            "make",
            "--silent",
            "-C",
            str(ROOT / "layers" / "peering"),
            "build-PeeringLayer",
            f"ARTIFACTS_DIR={layer}",
            f"PLATFORM={platform}",
            f"PYTHON313={python313 if compiled else ''}",
            f"PIP={python313} -m pip",
        ],
        check=True,
        capture_output=True,
    )
    runtime = root / "runtime"
    pip = [python313, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    subprocess.run(
        [*pip, "--target", str(runtime), _pinned("boto3"), _pinned("botocore")],
        check=True,
        capture_output=True,
    )
    subprocess.run([python313, "-m", "compileall", "-q", "-j", "0", str(runtime)], check=True)
    for function in FUNCTIONS:
        task = root / "task" / function
        task.mkdir(parents=True)
        shutil.copy(ROOT / "functions" / function / "app.py", task / "app.py")
    return Layout(root, compiled)


def _run(python313: str, layout: Layout, cwd: Path, statement: str) -> float:
    # -s: no user site; -B: write no bytecode, so a run cannot warm the next one.
    code = f"import sys; sys.path[:0] = {[str(cwd), *layout.path]!r}; {statement}"
    env = {**ENVIRONMENT, "PATH": os.environ.get("PATH", "")}
    started = time.perf_counter()
    subprocess.run([python313, "-s", "-B", "-c", code], cwd=cwd, env=env, check=True)
    return time.perf_counter() - started


@dataclass(frozen=True)
class ColdStart:
    function: str
    compiled: bool
    handler_ms: float
    boto3_ms: float
    ratio: float


def measure(
    python313: str, layout: Layout, function: str, pairs: int = PAIRS, *, then: str = "", label: str = ""
) -> ColdStart:
    """``import app`` (then ``then``, in the same process) against ``import boto3``, pair by pair."""
    task = layout.task(function)
    statement = f"import app; {then}" if then else "import app"
    _run(python313, layout, task, statement)  # once, so a missing import fails before timing
    handler: list[float] = []
    floor: list[float] = []
    for _ in range(pairs):
        handler.append(_run(python313, layout, task, statement))
        floor.append(_run(python313, layout, task, "import boto3"))
    ratios = [h / f for h, f in zip(handler, floor, strict=True)]
    return ColdStart(
        label or function,
        layout.compiled,
        handler_ms=statistics.median(handler) * 1000,
        boto3_ms=statistics.median(floor) * 1000,
        ratio=statistics.median(ratios),
    )


def run_all(pairs: int = PAIRS) -> list[ColdStart] | str:
    """Every handler, as shipped and as sources; a reason instead when there is no python3.13."""
    python313 = find_python313()
    if python313 is None:
        return "no python3.13 on this machine: the cold start of the runtime's Python cannot be measured"
    with tempfile.TemporaryDirectory(prefix="peering-coldstart-") as scratch:
        layouts = [
            build_layout(Path(scratch) / "compiled", python313, compiled=True),
            build_layout(Path(scratch) / "sources", python313, compiled=False),
        ]
        first_parse = FIRST_PARSE.format(text=policy_json())
        results: list[ColdStart] = []
        for layout in layouts:
            results += [measure(python313, layout, function, pairs) for function in FUNCTIONS]
            results.append(measure(python313, layout, "accept", pairs, then=first_parse, label=FIRST_PARSE_LABEL))
        return results


def table(results: list[ColdStart]) -> str:
    lines = [
        "| handler | layer | import handler (ms) | import boto3 (ms) | ratio (median of pairs) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        shipped = "bytecode (as shipped)" if r.compiled else "sources only"
        lines.append(f"| {r.function} | {shipped} | {r.handler_ms:.0f} | {r.boto3_ms:.0f} | {r.ratio:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    results = run_all()
    print(results if isinstance(results, str) else table(results))


if __name__ == "__main__":
    sys.exit(main())
