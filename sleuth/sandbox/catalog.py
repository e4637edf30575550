"""Where packaged worlds live and how to load one."""

from __future__ import annotations

import json
from pathlib import Path

from sleuth.sandbox.world import World

WORLDS_DIR = Path(__file__).with_name("worlds")


def list_worlds() -> list[str]:
    return sorted(p.parent.name for p in WORLDS_DIR.glob("*/world.json"))


def world_dir(name: str) -> Path:
    directory = WORLDS_DIR / name
    if not (directory / "world.json").is_file():
        raise KeyError(f"no packaged world {name!r}; known: {', '.join(list_worlds())}")
    return directory


def load_world(name_or_path: str | Path) -> World:
    """A packaged world by name, or a world.json (or a directory holding one) by path."""
    if isinstance(name_or_path, str) and (WORLDS_DIR / name_or_path / "world.json").is_file():
        path = WORLDS_DIR / name_or_path / "world.json"
    else:
        path = Path(name_or_path)
        if path.is_dir():
            path = path / "world.json"
        elif path.suffix != ".json":
            path = world_dir(str(name_or_path)) / "world.json"
    return World.model_validate(json.loads(path.read_text()))
