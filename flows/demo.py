"""The demo: the bundled sandbox on a free port, a config written for it."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import yaml

DEMO_KEY_ENV = "REFNET_DEMO_CLINIKO_KEY"
DEMO_API_KEY = "refnet-sandbox-demo-key-uk1"
DEMO_SOURCE = "sandbox"


def write_demo_config(folder: Path, base_url: str, registry: str | None, as_of: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "sources": [
            {
                "name": DEMO_SOURCE,
                "kind": "cliniko",
                "api_key_env": DEMO_KEY_ENV,
                "base_url": base_url,
                "contact_email": "demo@refnet.example",
                "requests_per_minute": 200,
            }
        ],
        "as_of": as_of,
    }
    if registry is not None:
        (folder / "partners.yml").write_text(registry, encoding="utf-8")
        config["partners"] = "partners.yml"
    path = folder / "config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@contextlib.contextmanager
def demo_session(
    home: Path, seed: int = 7, scale: float = 1.0, api_key: str = DEMO_API_KEY
) -> Iterator[Path]:
    """Serve a sandbox world for the length of the block; yields the config path."""
    from flows.sandbox.server import running_sandbox
    from flows.sandbox.world import build_world, registry_yaml

    world = build_world(seed=seed, scale=scale)
    # One folder per invocation: a second `refnet demo` that then finds the data directory
    # locked must not rewrite the config a running demo still reads (its sandbox's port).
    folder = home / "demo" / f"session-{os.getpid()}"
    with running_sandbox(world, api_key=api_key) as base_url:
        os.environ[DEMO_KEY_ENV] = api_key
        try:
            yield write_demo_config(
                folder, base_url, registry_yaml(world), world.end_date.isoformat()
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
