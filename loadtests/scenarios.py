"""Run a locust scenario against the data plane and write a report with a plot.

    python -m loadtests.scenarios NAME [--host URL] [--api URL] [--duration S] [--users N]

Without ``--host`` it starts its own `dataplane up` (free loopback ports, a
temporary home, short autoscaling windows), applies the scenario's Services,
runs locust headless as a child process for a bounded time, samples the data
plane every second, and stops everything it started. With ``--host`` (and
optionally ``--api``) it loads an existing install instead: ``--api`` is the
local control API (to apply the Services and sample pods and decisions); a
Kubernetes install gets only locust's side of the report.

The report directory holds summary.txt/json, timeline.csv (one row a second),
plot.png, locust's CSV files, and the logs of what ran.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

from dataplane.cli.http import local_token
from loadtests._scenario_api import ControlApi
from loadtests._scenario_apps import RUNTIMES, autoscaler_config, host_of
from loadtests._scenario_defs import SCENARIOS, Scenario, Settings
from loadtests._scenario_install import LocalInstall
from loadtests._scenario_locust import LOCUSTFILES, locust_command, read_failures, read_history, read_totals
from loadtests._scenario_plot import plot
from loadtests._scenario_report import Marker, summarize, timeline, write_summary, write_timeline_csv, format_summary
from loadtests._scenario_sampler import Sampler

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "scenarios"
LOCUST_GRACE_S = 60
"""Seconds locust may run past its -t (stopping users, writing CSVs) before it is killed."""
BURST_IDLE_S = 2
"""Burst scenarios: seconds locust stays up after the users stopped, so the last history rows are written."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtests.scenarios", description=__doc__.split("\n\n")[0])
    p.add_argument("name", choices=sorted(SCENARIOS), help="the scenario")
    p.add_argument("--host", help="router URL of an existing install (default: start a private `dataplane up`)")
    p.add_argument("--api", help="control API URL of an existing local install (apply the Services, sample the plane)")
    p.add_argument("--activator-metrics", help="the activator's Prometheus URL of an existing install")
    p.add_argument("--host-header", help="Host header (default: <service>.<namespace>.example.com)")
    p.add_argument("--namespace", default="default")
    p.add_argument("--duration", type=int, help="seconds of load (default: the scenario's)")
    p.add_argument("--users", type=int, help="users, or the peak of the ramp (default: the scenario's)")
    p.add_argument("--tail", type=int, help="seconds to keep sampling after the load (default: the scenario's)")
    p.add_argument("--app", choices=RUNTIMES, default="node", help="language of the sleeping app (default node)")
    p.add_argument("--out", type=Path, help="report directory (default loadtests/results/scenarios/NAME-TIME)")
    args = p.parse_args(argv)
    if args.api and not args.host:
        p.error("--api needs --host (the router of the same install)")
    for flag in ("duration", "users", "tail"):
        value = getattr(args, flag)
        if value is not None and value < (0 if flag == "tail" else 1):
            p.error(f"--{flag} must be positive")
    return args


def report_dir(name: str, out: Path | None) -> Path:
    if out is None:
        out = RESULTS / f"{name}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    return out


async def apply_setup(api: ControlApi, scenario: Scenario, settings: Settings, out: Path, own_install: bool) -> None:
    """Apply the Services batch by batch, each until the Service is ready; then wait for zero if asked."""
    applied = []
    if own_install:
        applied.append(autoscaler_config())
        await api.apply([autoscaler_config()])
    for batch in scenario.setup:
        docs = batch(settings)
        applied.extend(docs)
        await api.apply(docs)
        await api.wait_service_ready(scenario.service, settings.namespace, timeout=120)
    (out / "applied.yaml").write_text(yaml.safe_dump_all(applied, sort_keys=False))
    if scenario.start_at_zero:

        async def no_pods():
            return not await api.pods(settings.namespace)

        print(f"waiting for {scenario.service} to scale to zero...", flush=True)
        await api.wait_for("the service to scale to zero", no_pods, timeout=180, interval=0.5)


async def run_locust(cmd: list[str], log_path: Path, limit_s: float) -> int:
    """Run locust as a child process; terminate (then kill) it if it overruns ``limit_s``."""
    with open(log_path, "ab") as log:
        proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL)
        try:
            return await asyncio.wait_for(proc.wait(), limit_s)
        except asyncio.TimeoutError:
            proc.terminate()
            try:
                return await asyncio.wait_for(proc.wait(), 10)
            except asyncio.TimeoutError:
                proc.kill()
                return await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def run_steps(api: ControlApi | None, scenario: Scenario, settings: Settings, start: float, markers: list[Marker], out: Path) -> None:
    """Apply the scenario's mid-run steps at their times."""
    for step in scenario.steps:
        delay = start + step.at * settings.duration_s - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        markers.append(Marker(time.time() - start, step.label))
        if api is None:
            print(f"step '{step.label}' skipped: no control API", flush=True)
            continue
        docs = step.documents(settings)
        with open(out / "applied.yaml", "a") as f:
            f.write("---\n" + yaml.safe_dump_all(docs, sort_keys=False))
        await api.apply(docs)


async def drive(args: argparse.Namespace, scenario: Scenario, settings: Settings, out: Path, install: LocalInstall | None) -> dict:
    host = install.router_url if install else args.host
    api_url = install.api_url if install else args.api
    metrics_url = args.activator_metrics
    if install is not None:
        port = install.activator_metrics_port()
        metrics_url = f"http://127.0.0.1:{port}/metrics" if port else None
    host_header = args.host_header or host_of(scenario.service, settings.namespace)
    tail_s = scenario.tail_s if args.tail is None else args.tail
    prefix = out / "locust"
    locust_s = settings.duration_s + (BURST_IDLE_S if scenario.burst else 0)
    extra = ["--burst-seconds", str(settings.duration_s)] if scenario.burst else []
    spawn_rate = settings.users if scenario.spawn_all_at_once else max(1.0, settings.users / 10)
    cmd = locust_command(LOCUSTFILES / scenario.locustfile, host, prefix, settings.users, spawn_rate, locust_s, host_header, extra)
    (out / "locust-command.txt").write_text(" ".join(cmd) + "\n")

    async with aiohttp.ClientSession() as session:
        token = install.token() if install else local_token(api_url or "")
        api = ControlApi(api_url, session, token) if api_url else None
        if api is not None:
            await apply_setup(api, scenario, settings, out, own_install=install is not None)
        sampler = Sampler(api, session, settings.namespace, metrics_url, local_pods=api is not None) if api else None
        stop = asyncio.Event()
        markers: list[Marker] = []
        start = time.time()
        sampling = asyncio.create_task(sampler.run(stop, locust_s + LOCUST_GRACE_S + tail_s)) if sampler else None
        steps = asyncio.create_task(run_steps(api, scenario, settings, start, markers, out))
        print(f"{scenario.name}: {settings.users} users for {settings.duration_s} s against {host} (Host: {host_header})", flush=True)
        try:
            code = await run_locust(cmd, out / "locust.log", locust_s + LOCUST_GRACE_S)
            load_s = time.time() - start
            await steps
            if sampling is not None and tail_s:
                print(f"load done; sampling {tail_s} s more for the scale-down", flush=True)
                await asyncio.sleep(tail_s)
        finally:
            stop.set()
            steps.cancel()
            samples = await sampling if sampling is not None else []
            await asyncio.gather(steps, return_exceptions=True)
    if code != 0:
        print(f"locust exited with {code}; see {out / 'locust.log'}", file=sys.stderr)
    rows = timeline(start, read_history(Path(f"{prefix}_stats_history.csv")), samples)
    write_timeline_csv(rows, out / "timeline.csv")
    summary = summarize(
        scenario.name, read_totals(Path(f"{prefix}_stats.csv")), read_failures(Path(f"{prefix}_failures.csv")), rows, round(load_s, 1), markers
    )
    summary["users"] = settings.users
    summary["locust_exit_code"] = code
    write_summary(summary, out)
    title = f"{scenario.name}: {scenario.summary}\n{summary['requests']} requests, {summary['failures']} failed"
    shares = [f"{name} {v['routed_share'] * 100:.1f}%" for name, v in summary["revisions"].items() if "routed_share" in v]
    if len(shares) > 1:
        title += "; routed: " + ", ".join(shares)
    plot(rows, markers, title, out / "plot.png")
    return summary


async def run(args: argparse.Namespace) -> int:
    scenario = SCENARIOS[args.name]
    settings = Settings(
        users=args.users or scenario.users, duration_s=args.duration or scenario.duration_s, runtime=args.app, namespace=args.namespace
    )
    out = report_dir(scenario.name, args.out)
    with tempfile.TemporaryDirectory(prefix=f"scenario-{scenario.name}-") as tmp:
        install = None
        if not args.host:
            install = LocalInstall(Path(tmp) / "home", out / "dataplane-up.log")
            install.start()
        try:
            summary = await drive(args, scenario, settings, out, install)
        finally:
            if install is not None:
                print("stopping dataplane up...", flush=True)
                install.stop()
            elif args.api:
                async with aiohttp.ClientSession() as session:
                    await ControlApi(args.api, session, local_token(args.api)).delete("services", settings.namespace, scenario.service)
    print(format_summary(summary))
    print(f"report: {out}\nplot: {out / 'plot.png'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
