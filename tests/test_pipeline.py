"""The nightly pipeline end to end, through the real `refnet` command."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import ahocorasick
import duckdb
import pytest
from conftest import TEST_SCALE, refnet

from flows.publish import PUBLISHED_MARTS, storage_version
from flows.sandbox.server import running_sandbox
from flows.sandbox.world import build_world


def tree_fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_demo_prints_site_and_publishes_marts(demo_home: Path):
    out = (demo_home / "first-run.out").read_text().strip().splitlines()
    site_index = Path(out[-1])
    assert site_index == demo_home / "site" / "index.html"
    assert site_index.is_file()
    marts = demo_home / "published" / "marts.duckdb"
    con = duckdb.connect(str(marts), read_only=True)
    counts = {t: con.sql(f"select count(*) from {t}").fetchone()[0] for t in PUBLISHED_MARTS}
    con.close()
    assert counts["referrals"] > 50
    assert counts["partners"] >= 30
    assert counts["partner_performance_monthly"] > 30
    assert counts["funnel_monthly"] > 10


def test_published_file_is_readable_by_the_site_reader(demo_home: Path):
    # Evidence's DuckDB reader (node-api 1.4.2) reads storage versions 64..67 only.
    assert 64 <= storage_version(demo_home / "published" / "marts.duckdb") <= 67


def test_site_has_a_page_per_partner(demo_home: Path):
    con = duckdb.connect(str(demo_home / "published" / "marts.duckdb"), read_only=True)
    ids = [r[0] for r in con.sql("select partner_id from partners").fetchall()]
    con.close()
    site = demo_home / "site"
    assert (site / "partners" / "index.html").is_file()
    missing = [i for i in ids if not (site / "partners" / i / "index.html").is_file()]
    assert not missing, f"no page for partners {missing[:5]}"


def test_no_patient_identity_reaches_any_file(demo_home: Path):
    world = build_world(seed=7, scale=float(TEST_SCALE))
    needles = set()
    for ident in world.patient_identities():
        needles.update(str(v) for v in ident.values() if v and len(str(v)) >= 5)
    assert len(needles) > 100
    automaton = ahocorasick.Automaton()
    for needle in needles:
        automaton.add_word(needle, needle)
    automaton.make_automaton()
    scanned, seen = 0, set()
    for path in demo_home.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        if path.suffix == ".parquet":
            text = duckdb.sql(f"select * from read_parquet('{path}')").fetchall().__repr__()
        elif path.suffix == ".duckdb":
            con = duckdb.connect(str(path), read_only=True)
            tables = con.sql("select table_schema, table_name from information_schema.tables")
            text = repr(
                [con.sql(f'select * from "{s}"."{t}"').fetchall() for s, t in tables.fetchall()]
            )
            con.close()
        else:
            data = path.read_bytes()
            digest = hashlib.sha256(data).digest()
            if digest in seen:  # the site builds share their framework files
                continue
            seen.add(digest)
            text = data.decode("utf-8", errors="ignore")
        scanned += 1
        hit = next(automaton.iter(text), None)
        assert hit is None, f"{path} contains patient data: {hit[1]!r}"
    assert scanned > 20


def test_wrong_api_key_fails_and_leaves_published_untouched(demo_home: Path):
    marts = demo_home / "published" / "marts.duckdb"
    site = demo_home / "site"
    marts_bytes = marts.read_bytes()
    site_target = os.readlink(site)
    site_print = tree_fingerprint(site.resolve())
    world = build_world(seed=7, scale=float(TEST_SCALE))
    with running_sandbox(world, api_key="the-right-key-uk1") as base_url:
        config = demo_home / "wrong-key.yml"
        config.write_text(
            "sources:\n"
            "  - name: headingley\n"
            "    kind: cliniko\n"
            "    api_key_env: TEST_WRONG_KEY\n"
            f"    base_url: {base_url}\n"
            "    contact_email: ops@clinic.example\n"
        )
        result = refnet(
            "run",
            "--config",
            str(config),
            "--home",
            str(demo_home),
            env={"TEST_WRONG_KEY": "not-the-key-uk1", "REFNET_PSEUDONYM_SECRET": "test-secret"},
        )
    assert result.returncode != 0
    assert "headingley" in result.stderr
    assert "401" in result.stderr
    assert marts.read_bytes() == marts_bytes
    assert os.readlink(site) == site_target
    assert tree_fingerprint(site.resolve()) == site_print


@pytest.mark.parametrize(
    "body, message",
    [
        ("sources: []\n", "sources"),
        ("sources:\n  - name: x\n    kind: cliniko\n    contact_email: nope\n", "contact_email"),
        (
            "sources:\n  - {name: x, kind: cliniko, contact_email: a@b.co, api_kye_env: K}\n",
            "api_kye_env",
        ),
        (
            "sources:\n  - {name: x, kind: cliniko, contact_email: a@b.co, api_key: K,"
            " requests_per_minute: true}\n",
            "requests_per_minute",
        ),
        ("sources:\n  - {name: x, kind: cliniko, contact_email: a@b.co, api_key: ''}\n", "api_key"),
        (
            "sources:\n  - {name: x, kind: cliniko, contact_email: a@b.co,"
            " api_key_env: NO_SUCH_V}\n",
            "NO_SUCH_V",
        ),
    ],
)
def test_bad_config_is_refused_with_the_key_named(tmp_path: Path, body: str, message: str):
    config = tmp_path / "c.yml"
    config.write_text(body)
    result = refnet("run", "--config", str(config), "--home", str(tmp_path / "h"))
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "h").exists()
