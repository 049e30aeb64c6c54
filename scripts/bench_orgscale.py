"""Benchmark: the sweep at organization scale (1,000 / 10,000 account+Regions) under AWS latency.

Ten thousand targets with real latency cannot run on a small machine in minutes, so:

1. **Measure** on moto, through the handlers, what one target costs in calls: a no-drift sweep of
   a sample organization (every member with one converged connection), counted per service. The
   calls that a warm worker caches (AssumeRole per account, Organizations look-ups per account)
   are counted per account, the rest per target.
2. **Simulate** the deployed fan-out with those counts: the sweep function (ListAccounts, 20 a
   page as AWS answers; the not-ready Query; SendMessageBatch of 10, QUEUE_THREADS at once) and
   the event source mapping (batches of SweepBatchSize, at most SweepConcurrency invocations, each
   worker environment with its own caches, a cold start for each new environment, Lambda's ramp
   of 5 + 5 a second), every call's latency drawn from the model, seeded; a discrete-event
   simulation on a virtual clock.
3. **Check the model** against a real run: the same sample swept by real threads (one per
   concurrent invocation) against moto with the latency injected by a botocore hook (sleeping),
   compared with the simulation of that same run.

Latency model: every AWS call takes uniform(50, 150) ms (mean 100 ms); a new worker environment
takes 1 s before its first target (cold start), an invocation 20 ms of overhead.

CPU model: the worker's own CPU time per target is measured in the same no-drift sweep (process
CPU time inside the worker's handler, less the time moto spends answering: AWS's servers, not the
worker) and scaled to the function's memory: Lambda gives CPU in proportion to memory, one vCPU at
1,769 MB (Lambda developer guide, "Configuring Lambda function memory":
https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), so at 512 MB a target
takes 1,769 / 512 = 3.5 times this machine's CPU time (a core here taken as one vCPU; the worker
runs one thread, so memory beyond 1,769 MB buys no speed). Each target's CPU is added to its
calls' latency, in series, as the worker runs them.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import json
import math
import os
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

import bench_common
from bench_common import HUB, REGION, active_connection, by_service, client, counting, hub, organization
from bench_scale import _Context, _function
from emulation import fidelity
from peering.sweep.fan_out import QUEUE_THREADS

LATENCY = (0.050, 0.150)  # seconds per AWS call, uniform
# A slower world for the margin: about a second per target, as the issue estimated.
SLOW_LATENCY = (0.200, 0.600)
COLD_START = 1.0
INVOKE_OVERHEAD = 0.020
PAGE = 20  # ListAccounts: AWS answers at most 20 accounts a page (moto: all in one)
RAMP = (5, 5.0)  # the mapping starts 5 invocations, adds up to 300 a minute
INTERVAL = 1800  # the default SweepSchedule, rate(30 minutes)
WORKER_TIMEOUT = 600
CREDENTIAL_SECONDS = 45 * 60  # an hour's credentials, refreshed 15 minutes before they expire
ORG_CACHE_SECONDS = 300  # org.CACHE_SECONDS
REGIONS_PER_ACCOUNT = 10
DEFAULTS = (20, 10)  # template.yaml: SweepConcurrency, SweepBatchSize
SWEEP_TIMEOUT = 300  # template.yaml: SweepFunction
SHUFFLE_WINDOW = 100
SCHEDULED = bench_common.ROOT / "events" / "scheduled__sweep.json"
VCPU_MEMORY = 1769  # MB: Lambda's memory with the CPU of one vCPU (CPU is in proportion to memory)
# The largest organizations: about 10,000 accounts in 17 Regions (issue 23).
LARGEST = (10_000, 17)
# Before the CPU term (BENCHMARKS.md of 2026-11-30: latency only) and issue 23's independent model
# with the worker's CPU, at 10,000 account+Regions with the defaults: minutes, 50-150 / 200-600 ms.
BEFORE_WITHOUT_CPU = (2.8, 11.3)
ISSUE_WITH_CPU = ((4.9, 5.1), (13.3, 14.3))


def worker_memory() -> int:
    """The worker's MemorySize in template.yaml (MB)."""
    template = (bench_common.ROOT / "template.yaml").read_text()
    found = re.search(r"\n  WorkerFunction:\n(?:    .*\n|\n)*?      MemorySize: (\d+)\n", template)
    if found is None:
        raise RuntimeError("template.yaml: WorkerFunction has no MemorySize")
    return int(found.group(1))


WORKER_MEMORY = worker_memory()


@dataclass(frozen=True)
class TargetCost:
    """Calls per target measured on moto, split into what a warm worker caches and what not."""

    per_target: float  # EC2 describes, DynamoDB
    assume_per_account: float  # sts:AssumeRole (member accounts)
    org_per_account: float  # Organizations look-ups of the worker (identify)
    per_invocation: float  # SSM policy read, and the like
    measured: dict[str, float] = field(default_factory=dict)
    #: the worker's CPU seconds per target on this machine (moto's answering excluded)
    cpu_per_target: float = 0.0

    def cpu(self, memory: int = WORKER_MEMORY) -> float:
        """CPU seconds per target in a worker of ``memory`` MB (one thread: at most one vCPU)."""
        return self.cpu_per_target * max(1.0, VCPU_MEMORY / memory)


class _CpuMeter:
    """The worker's process CPU time, less what moto spends answering its calls (in the cloud,
    AWS's servers do that). Wraps the worker's handler and moto's in-process responder."""

    def __init__(self, worker: Any) -> None:
        self._worker = worker
        self.worker = 0.0
        self._moto = 0.0
        self._original = BotocoreStubber.__call__

    def lambda_handler(self, event: dict[str, Any], context: Any) -> Any:
        began, moto_before = time.process_time(), self._moto
        try:
            return self._worker.lambda_handler(event, context)
        finally:
            self.worker += time.process_time() - began - (self._moto - moto_before)

    @contextlib.contextmanager
    def installed(self) -> Any:
        meter, original = self, self._original

        def answering(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            began = time.process_time()
            try:
                return original(stubber, event_name, request, **kwargs)
            finally:
                meter._moto += time.process_time() - began

        BotocoreStubber.__call__ = answering  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BotocoreStubber.__call__ = original  # type: ignore[method-assign]


def _sweep_sample(accounts: int, regions: tuple[str, ...]) -> tuple[Counter[str], Counter[str], int, str]:
    """A no-drift sweep of ``accounts`` x ``regions``: (fan-out calls, worker calls, targets, queue)."""
    hub()
    members = organization(accounts - 1)
    # The deployed queue's visibility timeout (an hour): moto's default, 30 s, would deliver a
    # message again while a long invocation still works on it.
    url = boto3.client("sqs", region_name=REGION).create_queue(
        QueueName="bench-orgscale", Attributes={"VisibilityTimeout": "3600"}
    )["QueueUrl"]
    os.environ.update({"SWEEP_QUEUE_URL": url, "SWEEP_REGIONS": ",".join(regions)})
    os.environ.pop("SWEEP_ACCOUNTS", None)
    for n, account in enumerate([HUB, *members]):
        for region in regions:
            active_connection(client("ec2", account, region), n)
    return Counter(), Counter(), accounts * len(regions), url


def _records(batch: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": bench_common.sqs_records(batch, "bench-orgscale")}


def _drain(url: str, worker: Any, batch_size: int = 10) -> tuple[int, int]:
    """Every queued target through the worker, one process: (failures, invocations)."""
    sqs = boto3.client("sqs", region_name=REGION)
    failures = invocations = 0
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch_size).get("Messages", []):
        result = worker.lambda_handler(_records(batch), _Context())
        failures += len(result.get("batchItemFailures", []))
        invocations += 1
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return failures, invocations


def measure_cost(accounts: int = 10, regions: tuple[str, ...] = (REGION, "eu-west-1")) -> TargetCost:
    """Calls of one no-drift sweep on moto, per target / per account / per invocation."""
    with mock_aws(), contextlib.redirect_stdout(io.StringIO()):
        fidelity.enable()
        _, _, targets, url = _sweep_sample(accounts, regions)
        sweep, worker = _function("sweep"), _function("worker")
        sweep.lambda_handler(json.loads(SCHEDULED.read_text()), _Context())
        _drain(url, worker)  # the routes are installed (drift): the measured sweep has none
        bench_common.peering_aws.reset_member_credentials()
        bench_common.org.clear_cache()
        sweep.lambda_handler(json.loads(SCHEDULED.read_text()), _Context())
        with counting() as calls, _CpuMeter(worker).installed() as meter:
            failures, invocations = _drain(url, meter)  # one process: its caches start cold
    if failures:
        raise RuntimeError(f"the sample sweep failed {failures} targets")
    members = accounts - 1
    ec2, ddb = by_service(calls, "ec2"), by_service(calls, "dynamodb")
    return TargetCost(
        per_target=(ec2 + ddb) / targets,
        assume_per_account=calls["sts:AssumeRole"] / members,
        org_per_account=by_service(calls, "organizations") / accounts,
        per_invocation=(by_service(calls, "ssm") + calls["sts:GetCallerIdentity"]) / invocations,
        measured={
            "targets": targets,
            "ec2": ec2 / targets,
            "dynamodb": ddb / targets,
            "sts": calls["sts:AssumeRole"] / members,
            "organizations": by_service(calls, "organizations") / accounts,
            "sqs": by_service(calls, "sqs"),
        },
        cpu_per_target=meter.worker / targets,
    )


# --- the simulation ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    targets: int
    concurrency: int
    batch_size: int
    fan_out: float
    makespan: float
    longest_invocation: float
    organizations: int
    sts: int
    sqs: int
    peak_org_rate: float  # Organizations calls in the busiest second
    peak_sts_rate: float

    @property
    def org_rate(self) -> float:
        return self.organizations / self.makespan

    @property
    def throughput(self) -> float:
        return self.targets / max(self.makespan - self.fan_out, 1e-9)


class _Env:
    """One worker environment: its own caches, like a Lambda execution environment."""

    def __init__(self) -> None:
        self.credentials: dict[str, float] = {}
        self.identified: dict[str, float] = {}


def _fan_out(
    accounts: int, regions: int, rng: random.Random, call: Any, *, window: int, grouped: bool
) -> tuple[float, list[tuple[float, tuple[int, int]]], list[float], int]:
    """The sweep function on the virtual clock: (its end, the queue as (visible at, (account,
    Regions in the message))) in delivery order, when each Organizations call was made,
    SendMessageBatch calls). ``grouped``: one message per account naming its Regions
    (sweep.AccountSweep); else one per account+Region."""
    org_times: list[float] = []
    # Caller identity, organization, ListAccounts pages, the not-ready Query, then SendMessageBatch
    # calls QUEUE_THREADS at a time (a message is visible when its call returns).
    clock = call() + call()
    for _ in range(math.ceil(accounts / PAGE)):
        clock += call()
        org_times.append(clock)
    clock += call()
    if grouped:
        targets = [(a, regions) for a in range(accounts)]
    else:
        targets = [(a, 1) for a in range(accounts) for _ in range(regions)]
    sends = math.ceil(len(targets) / 10)
    lanes = [clock] * QUEUE_THREADS
    visible: list[float] = []
    for n in range(sends):
        lane = min(range(QUEUE_THREADS), key=lanes.__getitem__)
        lanes[lane] += call()
        visible += [lanes[lane]] * len(targets[n * 10 : n * 10 + 10])
    fan_out_end = max(lanes) + call() + call()  # outbox Query, the summary check
    order = list(range(len(targets)))
    # A standard queue delivers only roughly in order: shuffled within windows of ``window``.
    for start in range(0, len(order), window):
        part = order[start : start + window]
        rng.shuffle(part)
        order[start : start + window] = part
    # Delivered in that order, none before it was queued (a shuffled message queued late holds
    # back the ones after it: pessimistic by at most the fan-out's time).
    queue: list[tuple[float, tuple[int, int]]] = []
    latest = 0.0
    for i in order:
        latest = max(latest, visible[i])
        queue.append((latest, targets[i]))
    return fan_out_end, queue, org_times, sends


def simulate(
    accounts: int,
    regions: int,
    cost: TargetCost,
    concurrency: int,
    batch_size: int,
    *,
    seed: int = 7,
    window: int = SHUFFLE_WINDOW,
    cold_start: float = COLD_START,
    shared_cache: bool = False,
    ramp: tuple[int, float] = RAMP,
    latency: tuple[float, float] = LATENCY,
    grouped: bool = True,
    cpu: float = 0.0,
) -> Outcome:
    """The sweep of ``accounts`` x ``regions`` on a virtual clock (seconds); ``cpu``: the worker's
    CPU seconds per target (TargetCost.cpu), spent in series with its calls."""
    rng = random.Random(seed)  # noqa: S311 - a seeded simulation, nothing secret

    def call() -> float:
        return rng.uniform(*latency)

    def calls(n: float) -> float:
        whole = int(n) + (1 if rng.random() < n - int(n) else 0)
        return sum(call() for _ in range(whole))

    sts_times: list[float] = []
    fan_out_end, queue, org_times, sends = _fan_out(accounts, regions, rng, call, window=window, grouped=grouped)
    free: list[tuple[float, int]] = []  # (free at, environment) - warm environments
    envs: list[_Env] = []
    shared = _Env()
    running: list[float] = []  # end times of invocations in flight (a heap)
    started_at = queue[0][0]
    position = 0
    longest = 0.0
    end = fan_out_end
    now = started_at
    while position < len(queue):
        allowed = min(concurrency, ramp[0] + int(ramp[1] * (now - started_at)))
        while running and running[0] <= now:
            heapq.heappop(running)
        if len(running) >= allowed:
            now = running[0] if len(running) >= concurrency else min(running[0], now + 1 / ramp[1])
            continue
        if queue[position][0] > now:
            now = queue[position][0]
            continue
        batch = []
        while position < len(queue) and len(batch) < batch_size and queue[position][0] <= now:
            batch.append(queue[position][1])
            position += 1
        if free and free[0][0] <= now:
            _, index = heapq.heappop(free)
            env, t = envs[index], now + INVOKE_OVERHEAD
        else:
            envs.append(_Env())
            index, env = len(envs) - 1, envs[-1]
            t = now + cold_start + INVOKE_OVERHEAD
        cache = shared if shared_cache else env
        t += calls(cost.per_invocation)
        for account, count in batch:
            t = _message(account, count, cache, t, cost, calls=calls, org_times=org_times, sts_times=sts_times, cpu=cpu)
        longest = max(longest, t - now)
        heapq.heappush(running, t)
        heapq.heappush(free, (t, index))
        end = max(end, t)
    return Outcome(
        targets=accounts * regions,
        concurrency=concurrency,
        batch_size=batch_size,
        fan_out=fan_out_end,
        makespan=end,
        longest_invocation=longest,
        organizations=len(org_times),
        sts=len(sts_times),
        sqs=sends,
        peak_org_rate=_peak(org_times),
        peak_sts_rate=_peak(sts_times),
    )


def _message(
    account: int,
    regions: int,
    cache: _Env,
    t: float,
    cost: TargetCost,
    *,
    calls: Any,
    org_times: list[float],
    sts_times: list[float],
    cpu: float = 0.0,
) -> float:
    """One message (``regions`` targets of one account) in a worker environment from time ``t``:
    when it is done. The hub (account 0) assumes no role; what a warm environment still holds
    costs nothing; each target costs its calls and ``cpu``."""
    key = str(account)
    if t - cache.identified.get(key, -1e9) > ORG_CACHE_SECONDS:
        org_times += [t] * round(cost.org_per_account)
        t += calls(cost.org_per_account)
        cache.identified[key] = t
    if account and t - cache.credentials.get(key, -1e9) > CREDENTIAL_SECONDS:
        t += calls(cost.assume_per_account)
        sts_times.append(t)
        cache.credentials[key] = t
    return float(t + sum(calls(cost.per_target) + cpu for _ in range(regions)))


def _peak(times: list[float]) -> float:
    per_second = Counter(int(t) for t in times)
    return float(max(per_second.values(), default=0))


# --- the check: a real run with sleeping latency ------------------------------------------------------


def _latency_hook(rng: random.Random, lock: threading.Lock, latency: tuple[float, float]) -> Any:
    def sleep(**_: Any) -> None:
        with lock:
            pause = rng.uniform(*latency)
        time.sleep(pause)

    return sleep


def real_run(
    accounts: int, regions: tuple[str, ...], concurrency: int, batch_size: int, latency: tuple[float, float] = LATENCY
) -> float:
    """Makespan of the worker side of a no-drift sweep, real threads against moto, latency slept."""
    lock = threading.RLock()
    original = BotocoreStubber.__call__

    def atomic(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        with lock:  # moto's backends are not thread-safe; AWS handles each request atomically
            return original(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = atomic  # type: ignore[method-assign]
    try:
        with mock_aws(), contextlib.redirect_stdout(io.StringIO()):
            fidelity.enable()
            _, _, _, url = _sweep_sample(accounts, regions)
            scheduled = json.loads(SCHEDULED.read_text())
            sweep = _function("sweep")
            sweep.lambda_handler(scheduled, _Context())
            _drain(url, _function("worker"))  # installs the routes: the measured sweep has no drift
            bench_common.peering_aws.reset_member_credentials()
            bench_common.org.clear_cache()
            sweep.lambda_handler(scheduled, _Context())
            sqs = boto3.client("sqs", region_name=REGION)
            # Every call the functions make from here sleeps its latency (the session's clients).
            hook = _latency_hook(random.Random(11), threading.Lock(), latency)  # noqa: S311 - latency draws
            botocore_session = bench_common.peering_aws.shared_session()._session
            botocore_session.register("before-call", hook)
            workers = [_function("worker") for _ in range(concurrency)]  # one environment each
            failures: list[int] = []
            take = threading.Lock()

            def environment(worker: Any) -> None:
                while True:
                    with take:
                        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch_size).get("Messages", [])
                    if not batch:
                        return
                    result = worker.lambda_handler(_records(batch), _Context())
                    failures.append(len(result.get("batchItemFailures", [])))
                    sqs.delete_message_batch(
                        QueueUrl=url,
                        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
                    )

            began = time.perf_counter()
            threads = [threading.Thread(target=environment, args=(w,)) for w in workers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - began
            botocore_session.unregister("before-call", hook)
    finally:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]
    if sum(failures):
        raise RuntimeError(f"the checked run failed {sum(failures)} targets")
    return elapsed


# --- the report --------------------------------------------------------------------------------------


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


Setting = tuple[int, int, tuple[float, float], bool]  # SweepConcurrency, SweepBatchSize, latency, per account


def main(
    sizes: tuple[int, ...] = (1_000, 10_000),
    check: tuple[int, int] = (10, 4),
    largest: tuple[int, int] = LARGEST,
    smoke: bool = False,
) -> str:
    cost = measure_cost()
    m = cost.measured
    cpu = cost.cpu()
    lines = [
        f"Measured on moto (no drift, {int(m['targets'])} targets, caches cold): per target {m['ec2']:.1f} EC2 "
        f"and {m['dynamodb']:.1f} DynamoDB calls; per account and worker environment {m['sts']:.1f} AssumeRole "
        f"and {m['organizations']:.1f} Organizations look-ups (cached 45 min and 5 min); per invocation "
        f"{cost.per_invocation:.0f} call(s). The worker's CPU: {cost.cpu_per_target * 1000:.0f} ms a target on "
        f"this machine (its handler's process time, moto's answering excluded), {cpu * 1000:.0f} ms at the "
        f"worker's {WORKER_MEMORY} MB (x {VCPU_MEMORY / WORKER_MEMORY:.2f}: Lambda gives one vCPU at "
        f"{VCPU_MEMORY:,} MB, CPU in proportion to memory), spent in series with the target's calls. Latency: "
        f"every call uniform({LATENCY[0] * 1000:.0f}, "
        f"{LATENCY[1] * 1000:.0f}) ms; a new worker environment {COLD_START:.0f} s; {REGIONS_PER_ACCOUNT} Regions "
        "per account; ListAccounts 20 a page; the queue in order within windows of 100 messages. Rows marked "
        f"(slow): every call uniform({SLOW_LATENCY[0] * 1000:.0f}, {SLOW_LATENCY[1] * 1000:.0f}) ms, about a "
        "second per target as an AssumeRole and three describes were estimated to take. One message per "
        "account+Region is the former format (and 5 / 5 the former settings): a standard queue mixes the "
        "accounts, so each worker environment assumes most accounts' roles; one message per account "
        "(sweep.AccountSweep, now) assumes each role once per sweep. The makespan without the worker's CPU is "
        "the model before issue 23 (latency only).",
        "",
        "| account+Regions | one message | SweepConcurrency | SweepBatchSize | fan-out | makespan | "
        "makespan without CPU (before) | within 30 min | "
        "longest invocation | calls per target | ListAccounts | SendMessageBatch | Organizations (mean/s, peak/s) | "
        "AssumeRole (peak/s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    runs: dict[tuple[int, int, int, tuple[float, float], bool], Outcome] = {}
    no_cpu: dict[tuple[int, int, int, tuple[float, float], bool], Outcome] = {}
    for targets in sizes:
        accounts = targets // REGIONS_PER_ACCOUNT
        settings: list[Setting] = [(5, 5, LATENCY, False), (*DEFAULTS, LATENCY, True), (*DEFAULTS, LATENCY, False)]
        settings += [(5, 5, SLOW_LATENCY, False), (*DEFAULTS, SLOW_LATENCY, True)]
        for concurrency, batch, latency, grouped in settings:
            key = (targets, concurrency, batch, latency, grouped)
            o = simulate(
                accounts, REGIONS_PER_ACCOUNT, cost, concurrency, batch, latency=latency, grouped=grouped, cpu=cpu
            )
            runs[key] = o
            no_cpu[key] = simulate(
                accounts, REGIONS_PER_ACCOUNT, cost, concurrency, batch, latency=latency, grouped=grouped
            )
            per_target = cost.per_target + (o.organizations + o.sts) / targets
            slow = " (slow)" if latency == SLOW_LATENCY else ""
            messages = "per account" if grouped else "per account+Region"
            lines.append(
                f"| {targets:,}{slow} | {messages} | {concurrency} | {batch} "
                f"| {o.fan_out:.0f} s (timeout {SWEEP_TIMEOUT}) | {_minutes(o.makespan)} "
                f"| {_minutes(no_cpu[key].makespan)} "
                f"| {'yes' if o.makespan <= INTERVAL else '**no**'} | {o.longest_invocation:.0f} s "
                f"(timeout {WORKER_TIMEOUT}) | {per_target:.2f} | {math.ceil(accounts / PAGE)} | {o.sqs} "
                f"| {o.organizations:,} ({o.org_rate:.1f}, {o.peak_org_rate:.0f}) | {o.sts:,} ({o.peak_sts_rate:.0f}) |"
            )
    biggest = runs[(max(sizes), *DEFAULTS, LATENCY, True)]
    lines += [
        "",
        "Largest organization swept within the default 30-minute interval (the simulated throughput, "
        f"after the fan-out, with a fifth of the interval kept spare; {REGIONS_PER_ACCOUNT} Regions per account), "
        "with the worker's CPU and, before issue 23, without it:",
        "",
        "| SweepConcurrency | SweepBatchSize | targets a second / largest (account+Regions) | same, without CPU "
        "(before) | same, slow | same, slow, without CPU (before) |",
        "|---|---|---|---|---|---|",
    ]
    for concurrency, batch in ((5, 5), (10, 10), DEFAULTS, (50, 10), (100, 10)):
        row = []
        for latency in (LATENCY, SLOW_LATENCY):
            for cpu_term in (cpu, 0.0):
                # 10,000 account+Regions (1,000 messages): enough messages to keep every invocation busy.
                o = simulate(1_000, REGIONS_PER_ACCOUNT, cost, concurrency, batch, latency=latency, cpu=cpu_term)
                supported = int(o.throughput * (INTERVAL * 0.8 - biggest.fan_out) / 1000) * 1000
                row.append(f"{o.throughput:.1f} / {supported:,}")
        lines.append(f"| {concurrency} | {batch} | {' | '.join(row)} |")
    accounts, regions = check
    region_names = (REGION, "eu-west-1", "eu-central-1", "ap-southeast-2")[:regions]
    # The slow model, so that the waiting (what the simulation models) outweighs this machine's CPU.
    real = real_run(accounts, region_names, concurrency=4, batch_size=5, latency=SLOW_LATENCY)
    machine = real_run(accounts, region_names, concurrency=4, batch_size=5, latency=(0.0, 0.0))
    # Latency only: this machine's CPU is the run without latency, not the model's per-target CPU.
    model = simulate(
        accounts, regions, cost, 4, 5, cold_start=0.0, shared_cache=True, ramp=(4, 1e9), latency=SLOW_LATENCY
    )
    simulated = model.makespan - model.fan_out
    within = max(simulated, machine) <= real * 1.1 and real <= (simulated + machine) * 1.1
    verdict = "within" if within else "**outside**"
    lines += [
        "",
        f"Model check: {accounts * regions} targets ({accounts} accounts x {regions} Regions) swept by 4 real "
        "threads (one per concurrent invocation, caches shared) in batches of 5 against moto, every call "
        f"sleeping the slow model's latency (a botocore before-call hook): {real:.1f} s measured. The "
        f"simulation of that run (latency only): {simulated:.1f} s. The same run without latency: {machine:.1f} s "
        "(this machine's Python and moto, serialized by one interpreter; in Lambda each invocation has its own "
        "CPU and AWS its own servers). The measured time must lie between the larger of the two and their sum, "
        f"[{max(simulated, machine):.1f}, {simulated + machine:.1f}] s: it is {verdict} (10% tolerance).",
    ]
    lines += ["", *_findings(max(sizes), runs, no_cpu, cost)]
    lines += ["", *largest_organization(cost, *largest, smoke=smoke)]
    return "\n".join(lines)


#: (SweepConcurrency, SweepBatchSize, worker MemorySize) tried for the largest organizations
LARGEST_SETTINGS: tuple[tuple[int, int, int], ...] = (
    (*DEFAULTS, WORKER_MEMORY),
    (50, 10, WORKER_MEMORY),
    (100, 10, WORKER_MEMORY),
    (150, 10, WORKER_MEMORY),
    (200, 10, WORKER_MEMORY),
    (300, 10, WORKER_MEMORY),
    (150, 10, 1024),
    (150, 10, VCPU_MEMORY),
)


def largest_organization(cost: TargetCost, accounts: int, regions: int, *, smoke: bool = False) -> list[str]:
    """The settings that sweep ``accounts`` x ``regions`` within the interval, with their Lambda,
    Organizations and STS rates, and the largest organization the defaults sweep."""
    targets = accounts * regions
    tried = (LARGEST_SETTINGS[0], LARGEST_SETTINGS[4]) if smoke else LARGEST_SETTINGS
    lines = [
        f"The largest organizations ({accounts:,} accounts x {regions} Regions = {targets:,} account+Regions, one "
        "message per account): the settings, each simulated with the worker's CPU at its memory.",
        "",
        "| SweepConcurrency | SweepBatchSize | worker MemorySize | CPU per target | makespan | same, slow | "
        "within 30 min | fan-out, slow (timeout) | longest invocation, slow (timeout) | Lambda concurrency "
        "(Region default 1,000) | Organizations calls (mean/s, peak/s) | AssumeRole (mean/s, peak/s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    first_fit: tuple[int, int, int] | None = None
    for concurrency, batch, memory in tried:
        cpu = cost.cpu(memory)
        fast = simulate(accounts, regions, cost, concurrency, batch, cpu=cpu)
        slow = simulate(accounts, regions, cost, concurrency, batch, latency=SLOW_LATENCY, cpu=cpu)
        fits = max(fast.makespan, slow.makespan) <= INTERVAL
        if fits and first_fit is None:
            first_fit = (concurrency, batch, memory)
        lines.append(
            f"| {concurrency} | {batch} | {memory:,} MB | {cpu * 1000:.0f} ms | {_minutes(fast.makespan)} "
            f"| {_minutes(slow.makespan)} | {'yes' if fits else '**no**'} | {slow.fan_out:.0f} s ({SWEEP_TIMEOUT} s) "
            f"| {slow.longest_invocation:.0f} s ({WORKER_TIMEOUT} s) | {concurrency} "
            f"| {fast.organizations:,} ({fast.org_rate:.1f}, {max(fast.peak_org_rate, slow.peak_org_rate):.0f}) "
            f"| {fast.sts:,} ({fast.sts / fast.makespan:.1f}, {max(fast.peak_sts_rate, slow.peak_sts_rate):.0f}) |"
        )
    # The defaults: their throughput at this many Regions per account, over the interval (a fifth
    # spare) less the fan-out of that many accounts (found by iterating: the fan-out grows with them).
    sizes = []
    for latency in (LATENCY, SLOW_LATENCY):
        o = simulate(1_000, regions, cost, *DEFAULTS, latency=latency, cpu=cost.cpu())
        supported = accounts
        for _ in range(4):
            rng = random.Random(3)  # noqa: S311 - latency draws
            fan_out = _fan_out(supported, regions, rng, lambda: rng.uniform(*latency), window=1, grouped=True)[0]  # noqa: B023
            supported = int(o.throughput * (INTERVAL * 0.8 - fan_out) / regions)
        sizes.append(supported * regions // 1000 * 1000)
    if first_fit is None:
        chosen = f"none of the settings above sweeps {targets:,} account+Regions within 30 minutes at both latencies"
    else:
        concurrency, batch, memory = first_fit
        chosen = (
            f"`SweepConcurrency` {concurrency}, `SweepBatchSize` {batch} and a worker of {memory:,} MB are the "
            f"first of these settings that sweep {targets:,} account+Regions within 30 minutes at both latencies"
        )
    return [
        *lines,
        "",
        f"Result: {chosen}. The defaults (`SweepConcurrency` {DEFAULTS[0]}, `SweepBatchSize` {DEFAULTS[1]}, "
        f"{WORKER_MEMORY} MB) sweep about {sizes[0]:,} account+Regions ({sizes[0] // regions:,} accounts of "
        f"{regions} Regions) within the interval at {LATENCY[0] * 1000:.0f}-{LATENCY[1] * 1000:.0f} ms per call and "
        f"about {sizes[1]:,} ({sizes[1] // regions:,} accounts) at {SLOW_LATENCY[0] * 1000:.0f}-"
        f"{SLOW_LATENCY[1] * 1000:.0f} ms, a fifth of the interval kept spare. `SweepConcurrency` is the worker's "
        "Lambda concurrency (the mapping's MaximumConcurrency, 2 to 1,000), taken from the Region's 1,000 by "
        'default, shared with every other function of the account (Lambda developer guide, "Lambda quotas": '
        "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). Organizations and STS figures "
        "are calls per sweep (each account looked up and its role assumed once per worker environment and "
        "sweep, whatever the settings: more concurrency makes them faster, not more). No per-operation rate is "
        "documented for DescribeAccount, ListAccounts or AssumeRole [U] (see below); the peak rates in the table "
        "are those that settings must be checked against. The fan-out lists the accounts one page of 20 at a "
        f"time: {math.ceil(accounts / PAGE)} pages for {accounts:,} accounts, most of the sweep function's "
        f"{SWEEP_TIMEOUT} s at the slow latency. The worker's memory counts only up to {VCPU_MEMORY:,} MB "
        "(one thread); it is not a stack parameter (template.yaml's WorkerFunction MemorySize).",
    ]


Runs = dict[tuple[int, int, int, tuple[float, float], bool], Outcome]


def _findings(targets: int, runs: Runs, no_cpu: Runs, cost: TargetCost) -> list[str]:
    """What the table means for the defaults, and the AWS limits behind them (sources named)."""
    fast, slow = runs[(targets, *DEFAULTS, LATENCY, True)], runs[(targets, *DEFAULTS, SLOW_LATENCY, True)]
    fast_before = no_cpu[(targets, *DEFAULTS, LATENCY, True)]
    slow_before = no_cpu[(targets, *DEFAULTS, SLOW_LATENCY, True)]
    former = runs[(targets, 5, 5, SLOW_LATENCY, False)]
    spread = runs[(targets, *DEFAULTS, LATENCY, False)]
    accounts = targets // REGIONS_PER_ACCOUNT
    issue_fast, issue_slow = ISSUE_WITH_CPU
    before_figures = (
        f" ({BEFORE_WITHOUT_CPU[0]} and {BEFORE_WITHOUT_CPU[1]} min in BENCHMARKS.md of 2026-11-30); issue 23's "
        f"independent model with the CPU gave {issue_fast[0]}-{issue_fast[1]} and {issue_slow[0]}-{issue_slow[1]} "
        "min"
        if targets == 10_000
        else " (BENCHMARKS.md's and issue 23's figures are for 10,000)"
    )
    return [
        f"Result: with the defaults (`SweepConcurrency` {DEFAULTS[0]}, `SweepBatchSize` {DEFAULTS[1]}, one message "
        f"per account) and the worker's CPU ({cost.cpu() * 1000:.0f} ms a target at {WORKER_MEMORY} MB), "
        f"{targets:,} account+Regions are swept in {_minutes(fast.makespan)} at "
        f"{LATENCY[0] * 1000:.0f}-{LATENCY[1] * 1000:.0f} ms per call and in {_minutes(slow.makespan)} at "
        f"{SLOW_LATENCY[0] * 1000:.0f}-{SLOW_LATENCY[1] * 1000:.0f} ms, "
        f"{'inside' if max(fast.makespan, slow.makespan) <= INTERVAL else '**not** inside'} the 30-minute interval. "
        f"Before: {_minutes(fast_before.makespan)} and {_minutes(slow_before.makespan)} without the CPU in this "
        f"run{before_figures}. The former settings (5 invocations, batches of 5, one message per account+Region) took "
        f"{_minutes(former.makespan)} at the slower latency. The fan-out lists {accounts:,} accounts in "
        f"{math.ceil(accounts / PAGE)} pages and queues {accounts:,} messages in {fast.sqs} SendMessageBatch calls, "
        f"{QUEUE_THREADS} at a time: {fast.fan_out:.0f} to {slow.fan_out:.0f} s of its {SWEEP_TIMEOUT} s. A worker "
        f"invocation of {DEFAULTS[1]} accounts of {REGIONS_PER_ACCOUNT} Regions lasts {fast.longest_invocation:.0f} "
        f"to {slow.longest_invocation:.0f} s of its {WORKER_TIMEOUT} s.",
        "",
        'Why these settings. EC2 throttles per account and per Region (EC2 developer guide, "Request throttling": '
        "https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html), so two targets never compete "
        "for a bucket: concurrency is bounded by Lambda (the mapping's MaximumConcurrency, 2 to 1,000: "
        "CloudFormation `ScalingConfig` reference; the Region's concurrency, 1,000 by default, shared with the "
        "other functions) and by what the hub asks of Organizations and STS. One message per account makes that "
        "one AssumeRole and one DescribeAccount per account per sweep whatever order the queue delivers in (a "
        "standard queue keeps none); with one message per account+Region, each worker environment assumed most "
        f"accounts' roles ({spread.sts:,} AssumeRole and {spread.organizations:,} Organizations calls per sweep at "
        f"{DEFAULTS[0]} invocations, {spread.peak_sts_rate:.0f} a second at the peak). The event source mapping "
        'starts 5 concurrent batches and adds up to 300 a minute (Lambda developer guide, "Configuring scaling '
        'behavior for SQS event source mappings": '
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html), "
        "modelled as 5 plus 5 a second. ListAccounts answers at most 20 accounts a page (Organizations API "
        "reference, ListAccounts `MaxResults` 1-20; moto answers every account in one page, which the simulation "
        "does not rely on).",
        "",
        "Rate limits, as far as documented. Organizations: the user guide's quotas page "
        "(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html) has a throttling "
        "section; no per-operation figure for DescribeAccount or ListAccounts was confirmed for this note [U]. The "
        f"defaults make about {fast.org_rate:.0f} Organizations calls a second on average and "
        f"{fast.peak_org_rate:.0f} at the peak (the first seconds, when every new environment checks its "
        "accounts), after which the membership check is cached 5 minutes per environment. STS: AWS documents "
        "that STS requests are throttled per account and that the rate cannot be raised, and advises caching "
        'credentials (AWS re:Post knowledge center, "iam-sts-throttling-error"); no AssumeRole figure was found '
        f"[U]. The worker keeps each member role's credentials 45 minutes per environment: {fast.sts:,} AssumeRole "
        f"per sweep of {accounts:,} accounts, at most {fast.peak_sts_rate:.0f} a second. Both clients use "
        "botocore's adaptive retry mode (10 attempts), which slows down on TooManyRequestsException / Throttling "
        "rather than failing the target. If the hub's Organizations or STS rate is shared with other automation, "
        "lower `SweepConcurrency` (the table of the largest organization per setting above).",
    ]


if __name__ == "__main__":
    import sys

    print(main((1_000,), (4, 2), smoke=True) if "--smoke" in sys.argv else main())
