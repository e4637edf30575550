"""A local stand-in for Datadog: incident worlds served over Datadog's own HTTP API on loopback.

from sleuth.sandbox import SandboxServer, list_worlds
with SandboxServer("ecommerce-deploy") as srv:
    ...  # point datadog-api-client at srv.url; post srv.alert_payload() to the webhook
"""

from sleuth.sandbox.catalog import list_worlds, load_world
from sleuth.sandbox.protocol import TelemetryWorld
from sleuth.sandbox.server import SandboxServer
from sleuth.sandbox.truth import GroundTruth, load_truth
from sleuth.sandbox.world import World

__all__ = [
    "GroundTruth",
    "SandboxServer",
    "TelemetryWorld",
    "World",
    "list_worlds",
    "load_truth",
    "load_world",
]
