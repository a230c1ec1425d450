"""The transform baseline: dbt's compiled model SQL executed directly in one DuckDB connection.

    .venv/bin/python bench/rawsql.py TARGET_DIR WAREHOUSE

Reads `manifest.json` and `compiled/` of a finished `dbt build` (TARGET_DIR), then creates every
seed and model as a table, in DAG order, with the profile's session settings: the same SQL
without dbt (no parsing, no tests, no contracts, no hooks). WAREHOUSE must be named like dbt's
(`refnet.duckdb`): the compiled SQL names relations `"refnet"."main"."..."`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    target, warehouse = Path(sys.argv[1]), Path(sys.argv[2])
    manifest = json.loads((target / "manifest.json").read_text())
    nodes = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed") and node["package_name"] == "refnet"
    }
    graph = {
        uid: [d for d in node.get("depends_on", {}).get("nodes", []) if d in nodes]
        for uid, node in nodes.items()
    }
    warehouse.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse))
    limit = os.environ.get("REFNET_DUCKDB_MEMORY_LIMIT", "1536MB")
    con.execute(
        f"set TimeZone = 'UTC'; set threads = 2; set memory_limit = '{limit}'; "
        "set preserve_insertion_order = false"
    )
    started = time.monotonic()
    for uid in TopologicalSorter(graph).static_order():
        node = nodes[uid]
        name = node["alias"] or node["name"]
        if node["resource_type"] == "seed":
            csv = REPO / "dbt_project" / node["original_file_path"]
            con.execute(f"create table main.{name} as select * from read_csv('{csv}')")
            continue
        compiled = target / "compiled" / "refnet" / node["original_file_path"]
        con.execute(f"create or replace table main.{name} as (\n{compiled.read_text()}\n)")
    print(json.dumps({"models": len(nodes), "seconds": time.monotonic() - started}))


if __name__ == "__main__":
    main()
