"""`python -m sleuth.sandbox --world <name> --port 8126`: serve a world until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime

from sleuth.sandbox.catalog import list_worlds
from sleuth.sandbox.server import SandboxServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sleuth.sandbox", description=__doc__)
    parser.add_argument("--world", help="packaged world name or path to a world.json")
    parser.add_argument("--port", type=int, default=8126)
    parser.add_argument("--anchor", help="ISO time the monitor fires (default: now)")
    parser.add_argument("--api-key", default="sandbox-api-key")
    parser.add_argument("--app-key", default="sandbox-app-key")
    parser.add_argument("--list", action="store_true", help="list packaged worlds and exit")
    args = parser.parse_args(argv)
    if args.list or not args.world:
        print("\n".join(list_worlds()))
        return 0 if args.list else 2
    anchor = datetime.fromisoformat(args.anchor.replace("Z", "+00:00")) if args.anchor else None
    with SandboxServer(
        args.world, api_key=args.api_key, app_key=args.app_key, port=args.port, anchor=anchor
    ) as srv:
        print(f"sandbox for world {args.world!r} at {srv.url} (monitor fired at {srv.anchor.isoformat()})")
        print(f"  export SLEUTH_DATADOG_URL={srv.url} DD_API_KEY={args.api_key} DD_APP_KEY={args.app_key}")
        print("alert payload:")
        print(json.dumps(srv.alert_payload(), indent=2))
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
