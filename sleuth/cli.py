"""The `sleuth` command. Flags override the environment's settings of the same name."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pydantic import ValidationError

from sleuth.config import Settings, load_settings


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--temporal-address", help="host:port of Temporal (default: embedded dev server)")
    p.add_argument("--namespace", dest="temporal_namespace", help="Temporal namespace (default: default)")
    p.add_argument("--task-queue", help="task queue (default: sleuth)")
    p.add_argument("--model", help="offline | openai:<model> | anthropic:<model>")
    p.add_argument("--data-dir", type=Path, help="local state directory (default: ~/.sleuth)")


def _ports(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8080, help="intake port (default 8080)")
    p.add_argument("--temporal-port", type=int, default=7233, help="embedded Temporal port (default 7233)")
    p.add_argument(
        "--ui-port", type=int, default=8233, help="embedded Temporal UI port (default 8233; 0: no UI)"
    )
    p.add_argument("--world", help="sandbox world to serve when no Datadog keys are set")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="sleuth", description="Durable background SRE investigations of Datadog alerts."
    )
    sub = ap.add_subparsers(dest="command", required=True)

    up = sub.add_parser(
        "up", help="embedded Temporal (if needed), sandbox Datadog (if no keys), worker and intake"
    )
    _common(up)
    _ports(up)
    up.add_argument("--insecure-dev", action="store_true", help="accept webhooks without X-Sleuth-Token")

    demo = sub.add_parser("demo", help="up + a sandbox incident + its alert + live progress + the report")
    _common(demo)
    _ports(demo)
    demo.add_argument(
        "--decision",
        choices=["approve", "reject", "wait"],
        default="approve",
        help="what the demo's human does with a proposed action (default: approve)",
    )

    worker = sub.add_parser("worker", help="run a worker against an existing Temporal")
    _common(worker)
    worker.add_argument(
        "--health-port",
        type=int,
        default=0,
        help="serve GET /healthz (worker polling and Temporal reachable) and /livez on this port (default: off)",
    )
    worker.add_argument(
        "--host", default="127.0.0.1", help="bind address of the health port (default 127.0.0.1)"
    )

    serve = sub.add_parser("serve", help="run the webhook intake against an existing Temporal")
    _common(serve)
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--insecure-dev", action="store_true")

    ev = sub.add_parser("eval", help="run the offline evaluation suite and write a scorecard")
    _common(ev)
    ev.add_argument(
        "--dataset",
        default="sandbox",
        help="sandbox (default), nezha-ob, nezha:<dir> (any Nezha-layout dataset) or living",
    )
    ev.add_argument("--out", type=Path, help="where to write the scorecard JSON")
    ev.add_argument("--cases", nargs="*", help="only these case names")

    fb = sub.add_parser("feedback", help="record a human verdict on a finished investigation")
    _common(fb)
    fb.add_argument("investigation_id")
    right = fb.add_mutually_exclusive_group(required=True)
    right.add_argument("--correct", action="store_true", help="the report's conclusion was right")
    right.add_argument("--wrong", action="store_true", help="it was wrong (give --cause)")
    fb.add_argument("--cause", help="the real root cause, <service>:<kind>")
    fb.add_argument("--by", help="who says so (default: the current user)")
    fb.add_argument("--note", help="free text")

    ex = sub.add_parser("export-case", help="export a labelled investigation as a replayable eval case")
    _common(ex)
    ex.add_argument("investigation_id")
    ex.add_argument("--out", type=Path, help="cases directory (default: <data dir>/living-cases)")
    return ap


def settings_from(args: argparse.Namespace) -> Settings:
    keys = ("temporal_address", "temporal_namespace", "task_queue", "model", "data_dir")
    return load_settings(**{k: getattr(args, k, None) for k in keys})


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except ValidationError as err:
        # Only what was wrong: pydantic's own text repeats every input, credentials included.
        for e in err.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in e["loc"])
            print(f"sleuth: bad configuration: {where + ': ' if where else ''}{e['msg']}", file=sys.stderr)
        return 2
    try:
        return _dispatch(args, settings)
    except KeyboardInterrupt:
        return 130
    except (ValueError, FileNotFoundError, RuntimeError, TimeoutError, OSError) as err:
        print(f"sleuth {args.command}: {err}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "demo":
        from sleuth.demo import main_demo

        return main_demo(
            settings,
            world=args.world,
            port=args.port,
            temporal_port=args.temporal_port,
            ui_port=args.ui_port or None,
            decision=args.decision,
        )
    if args.command == "up":
        return asyncio.run(_up(settings, args))
    if args.command == "worker":
        return asyncio.run(_worker(settings, args))
    if args.command == "serve":
        return asyncio.run(_serve(settings, args))
    if args.command == "eval" and args.dataset == "living":
        from sleuth.evals.living import main_living

        return main_living(settings, out=args.out, cases=args.cases)
    if args.command == "feedback":
        from sleuth.evals.feedback import main_feedback

        return main_feedback(
            settings,
            args.investigation_id,
            correct=args.correct,
            cause=args.cause,
            by=args.by,
            note=args.note,
        )
    if args.command == "export-case":
        from sleuth.evals.living import main_export

        return main_export(settings, args.investigation_id, args.out)
    if args.command == "eval":
        from sleuth.evals.suite import main_eval

        return main_eval(settings, dataset=args.dataset, out=args.out, cases=args.cases)
    raise AssertionError(args.command)


async def _up(settings: Settings, args: argparse.Namespace) -> int:
    from sleuth.runtime import running_stack, shutdown_signals

    async with (
        shutdown_signals() as stop,
        running_stack(
            settings,
            port=args.port,
            temporal_port=args.temporal_port,
            ui_port=args.ui_port or None,
            world=args.world,
            insecure_dev=args.insecure_dev,
        ),
    ):
        print("sleuth is up; Ctrl-C to stop")
        await stop.wait()
        print("stopping…")
    return 0


def _require_temporal(settings: Settings) -> str:
    if not settings.temporal_address:
        raise ValueError(
            "TEMPORAL_ADDRESS (or --temporal-address) is required; `sleuth up` embeds one instead"
        )
    return settings.temporal_address


async def _worker(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from sleuth.health import Readiness, fixed_client, health_app
    from sleuth.runtime import shutdown_signals
    from sleuth.worker import build_worker, connect

    if settings.sandbox_mode:
        raise ValueError(
            "no Datadog configured: set DD_API_KEY and DD_APP_KEY (and DD_SITE), or SLEUTH_DATADOG_URL"
        )
    async with shutdown_signals() as stop:
        client = await connect(
            _require_temporal(settings), settings.temporal_namespace, settings.temporal_access
        )
        worker = build_worker(client, settings)
        task = asyncio.create_task(worker.run())
        readiness = Readiness(worker=True)
        task.add_done_callback(lambda _: readiness.set("worker", False))
        health: uvicorn.Server | None = None
        if args.health_port:
            app = health_app("Sleuth worker", readiness, fixed_client(client))
            health = uvicorn.Server(
                uvicorn.Config(app, host=args.host, port=args.health_port, log_level="warning")
            )
            health_task = asyncio.create_task(health.serve())
        print(f"worker polling task queue '{settings.task_queue}' on {settings.temporal_address}")
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([stopping, task], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not task.done():
            await worker.shutdown()
        await asyncio.gather(task, return_exceptions=True)
        if health is not None:
            health.should_exit = True
            await health_task
        if not stop.is_set():  # the worker stopped by itself: a fatal error, not a requested stop
            error = task.exception() if not task.cancelled() else None
            print(f"sleuth: the worker stopped: {error!r}", file=sys.stderr)
            return 1
    return 0


async def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from sleuth.intake.app import create_app, lazy_client

    address = _require_temporal(settings)
    # Connects on first use, so the intake comes up (and answers 503) while Temporal is down.
    get_client = lazy_client(address, settings.temporal_namespace, settings.temporal_access)
    app = create_app(settings, get_client, insecure_dev=args.insecure_dev)
    await uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="info")).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
