"""``python -m runner smoke``: the command (options, output, exit status) around ``runner.smoke``.

Exit status: 0 every step passed; 1 a step failed (the table names it); 2 the smoke test could
not start (no such stack, credentials of another account); 130 interrupted (after removing what
it created).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from runner.smoke import SmokeRun, Target, new_run_id, table
from runner.smoke_leftovers import LeftoversError, leftover_runs, remove_leftovers

__all__ = ["register", "run_smoke"]


def run_smoke(
    target: Target,
    *,
    run_id: str | None = None,
    timeout: float = 300.0,
    poll: float = 5.0,
    progress_every: float = 15.0,
    out: Callable[[str], None] = print,
) -> int:
    """One smoke run on ``target``; its exit status (0 every step passed, 1 a step failed)."""
    run = SmokeRun(target, run_id or new_run_id(), timeout=timeout, poll=poll, progress_every=progress_every, out=out)
    names = target.names
    out(f"smoke test {run.run_id} in account {target.account}, Region {target.region}")
    out(f"hub: {names.source}; ledger {names.ledger_table or '(unknown: its checks are skipped)'}")
    earlier = leftover_runs(run.ec2, besides=run.run_id)
    if earlier:
        out(f"note: earlier runs left VPCs here ({', '.join(earlier)}); `smoke --clean-up` removes them")
    started = time.monotonic()
    try:
        run.run()
    finally:  # the table also when interrupted (after the teardown)
        results = run.results
        failed = [r for r in results if not r.ok]
        out("")
        out(table(results))
        out("")
        summary = f"{len(results) - len(failed)} of {len(results)} steps passed in {time.monotonic() - started:.1f} s"
        out(f"{summary}; failed: {', '.join(r.name for r in failed)}" if failed else summary)
    return 1 if failed else 0


def clean_up(target: Target, out: Callable[[str], None] = print) -> int:
    """Remove what earlier runs left in the target's account and Region (``--clean-up``)."""
    ec2 = target.sandbox_client("ec2")
    try:
        removed = remove_leftovers(ec2)
    except LeftoversError as exc:
        out(f"could not remove {exc}")
        return 1
    for run_id, resources in removed.items():
        out(f"{run_id}: removed {', '.join(resources) if resources else 'nothing (already gone)'}")
    out(f"{len(removed)} earlier run(s) cleaned up in account {target.account}, Region {target.region}")
    return 0


@contextlib.contextmanager
def _local(args: argparse.Namespace) -> Iterator[Target]:
    """The sandbox of ``runner up`` (runner.sandbox); where it is not there yet, the emulated hub in
    this process (``local_target``: the same hub, routing and functions, driven by ``settle``)."""
    from runner.smoke_targets import SandboxTarget, WrongAccountError, local_target  # noqa: PLC0415

    try:
        from runner.sandbox import Sandbox  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415
    except ImportError:
        with local_target(region=args.region or "us-east-1") as target:
            if args.account and args.account != target.account:
                raise WrongAccountError(f"the local hub is account {target.account}, not {args.account}") from None
            yield target
        return
    with Sandbox() as sandbox:
        yield SandboxTarget.of(sandbox, account=args.account, region=args.region)


@contextlib.contextmanager
def _target(args: argparse.Namespace) -> Iterator[Target]:
    from runner.smoke_targets import DeployedTarget  # noqa: PLC0415

    if args.local:
        with _local(args) as target:
            yield target
        return
    yield DeployedTarget.connect(
        stack=args.stack,
        account=args.account,
        region=args.region,
        profile=args.profile,
        hub_profile=args.hub_profile,
        hub_region=args.hub_region,
    )


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_smoke(args: argparse.Namespace) -> int:
    from runner.smoke_targets import StackNotFoundError, WrongAccountError  # noqa: PLC0415

    previous = signal.signal(signal.SIGTERM, _interrupt)  # a stopped run still removes what it made
    try:
        with _target(args) as target:
            if args.clean_up:
                return clean_up(target)
            return run_smoke(target, timeout=args.timeout, poll=args.poll_interval)
    except (StackNotFoundError, WrongAccountError, NoCredentialsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:  # before the first step (identity, the stack)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: what the run created was removed (see above)", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "smoke",
        help="one peering lifecycle through AWS APIs in a sandbox account, checked step by step (docs/deploy.md)",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", metavar="NAME", help="the deployed hub's stack (its outputs name the ledger)")
    where.add_argument("--local", action="store_true", help="against the local sandbox (a moto server it starts)")
    p.add_argument("--account", help="the sandbox account: refused when the credentials are of another one")
    p.add_argument("--region", help="the sandbox Region (default: the configured Region)")
    p.add_argument("--profile", help="AWS CLI profile of the sandbox account (default: the standard credentials)")
    p.add_argument("--hub-profile", help="profile that reads the hub's stack and ledger (default: --profile)")
    p.add_argument("--hub-region", help="the hub's Region (default: --region)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait in each step (default: 300)")
    p.add_argument("--poll-interval", type=float, default=5.0, help="seconds between reads (default: 5)")
    p.add_argument(
        "--clean-up", action="store_true", help="only remove what earlier (interrupted) runs left, found by their tag"
    )
    p.set_defaults(run=cmd_smoke)
