"""A large landed world for the transform benchmarks, written straight as raw Parquet.

    .venv/bin/python bench/world.py OUT --clinics 50          # ~1 M referrals, ~6 M appointments
    .venv/bin/python bench/world.py OUT --changes 0.01 --night 1   # land a nightly delta

Going through the HTTP sandbox would take hours at this size, so the records are generated with
DuckDB SQL in the landed format itself (docs/contracts.md "Raw landing", flows/land.RAW_SCHEMA):
`<OUT>/cliniko/<account>/<stream>/<run_id>-<seq>.parquet`, one account per clinic, records as
pseudonymised JSON text shaped like the extractor's. Deterministic: the same arguments give the
same records. The partner registry is landed empty (every partner comes from the PMS).

`--changes F --night N` lands a delta instead: a new batch per stream holding the share F of the
records, edited on night N (a new `updated_at`, landed at a later `extracted_at`), as a nightly
extraction of a clinic where that share of records changed would.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from flows.land import RAW_SCHEMA  # noqa: E402
from flows.sandbox.world import RESOURCES  # noqa: E402

BASE = "https://api.uk1.cliniko.com/v1"
END = "2026-11-30"  # the world's last day; benchmarks build with as_of = END
HISTORY_DAYS = 540
REFERRALS_PER_CLINIC = 20_000
LANDED_AT = "2026-12-01 02:00:00"  # the base extraction; night N lands N days later
STREAMS = RESOURCES  # the Cliniko streams, in the sandbox's order
# Generated here; the others get one empty batch so dbt's read_parquet globs always match.
GENERATED = STREAMS[:11]

MACROS = f"""
create or replace macro link(res, id) as
    json_object('links', json_object('self', '{BASE}/' || res || '/' || id));
create or replace macro self_link(res, id) as json_object('self', '{BASE}/' || res || '/' || id);
create or replace macro ts(t) as strftime(t, '%Y-%m-%dT%H:%M:%SZ');
create or replace macro dice(a, b, salt) as cast(hash(a, b, salt) % 1000 as integer);
"""

# Each view yields (account, id, updated_at, record) for one stream.
RECORDS = {
    "businesses": """
        select account, '1' as id, ts(t0) as updated_at, json_object(
            'id', '1', 'created_at', ts(t0), 'updated_at', ts(t0),
            'business_name', 'Clinic ' || k, 'display_name', 'Clinic ' || k, 'label', null,
            'time_zone', 'London', 'time_zone_identifier', 'Europe/London',
            'country', 'United Kingdom', 'country_code', 'GB', 'archived_at', null,
            'deleted_at', null, 'links', self_link('businesses', '1')) as record
        from clinics""",
    "practitioners": """
        select account, cast(p as varchar) as id, ts(t0) as updated_at, json_object(
            'id', cast(p as varchar), 'created_at', ts(t0), 'updated_at', ts(t0),
            'title', 'Dr', 'display_name', 'Practitioner ' || p,
            'designation', 'Physiotherapist', 'active', true,
            'links', self_link('practitioners', cast(p as varchar))) as record
        from clinics, range(1, 4) t(p)""",
    "appointment_types": """
        select account, cast(a as varchar) as id, ts(t0) as updated_at, json_object(
            'id', cast(a as varchar), 'created_at', ts(t0), 'updated_at', ts(t0),
            'name', case a when 1 then 'Initial Consultation' else 'Follow-up' end,
            'category', null, 'duration_in_minutes', case a when 1 then 60 else 30 end,
            'archived_at', null, 'links', self_link('appointment_types', cast(a as varchar)))
            as record
        from clinics, range(1, 3) t(a)""",
    "contacts": """
        select account, cast(c as varchar) as id, ts(t0) as updated_at, json_object(
            'id', cast(c as varchar), 'created_at', ts(t0), 'updated_at', ts(t0),
            'title', 'Dr', 'first_name', 'Referrer', 'last_name', 'Number ' || c,
            'preferred_name', null,
            'company_name', case c % 4 when 0 then 'Northside Health Centre'
                when 1 then 'City Orthopaedics' when 2 then 'Riverside Chiropractic'
                else 'Peak Gym' end || ' ' || c,
            'occupation', case c % 4 when 0 then 'General Practitioner'
                when 1 then 'Orthopaedic Surgeon' when 2 then 'Chiropractor'
                else 'Personal Trainer' end,
            'type', case when c % 4 < 2 then 'Doctor' else 'Standard' end,
            'type_code', case when c % 4 < 2 then 1 else 0 end,
            'doctor_type', case c % 4 when 0 then 'general_practitioner'
                when 1 then 'specialist' end,
            'provider_number', null, 'archived_at', null, 'deleted_at', null,
            'links', self_link('contacts', cast(c as varchar))) as record
        from clinics, range(1, 21) t(c)""",
    "referral_source_types": """
        select account, cast(r as varchar) as id, ts(t0) as updated_at, json_object(
            'id', cast(r as varchar), 'created_at', ts(t0), 'updated_at', ts(t0),
            'name', ['Contact', 'Patient', 'Online search', 'Gym or fitness'][r],
            'referrer_type', ['Contact', 'Patient', null, null][r],
            'subcategories', [[], [], ['Google'], ['Peak Gym', 'City Crossfit']][r],
            'archived_at', null, 'links', self_link('referral_source_types', cast(r as varchar)))
            as record
        from clinics, range(1, 5) t(r)""",
    "patients": """
        select account, pid as id, ts(created) as updated_at, json_object(
            'id', pid, 'created_at', ts(created), 'updated_at', ts(created),
            'accepted_privacy_policy', true, 'accepted_email_marketing', false,
            'accepted_sms_marketing', false, 'archived_at', null, 'deleted_at', null,
            'merged_at', null, 'links', self_link('patients', pid),
            'patient_key', md5(account || ':' || pid),
            'birth_year', 1950 + dice(k, p, 'birth') % 60,
            'postcode_district', 'LS' || (1 + dice(k, p, 'postcode') % 28),
            'shares_with_referrer', case dice(k, p, 'consent') % 3
                when 0 then true when 1 then false end) as record
        from patients""",
    "referral_sources": """
        select account, pid as id, ts(created) as updated_at, json_object(
            'created_at', ts(created), 'updated_at', ts(created), 'archived_at', null,
            'referrer_type', case kind when 0 then 'Contact' when 1 then 'Patient' end,
            'subcategory', case kind when 3 then 'Peak Gym' end,
            'referrer', case kind when 0 then link('contacts', cast(1 + p % 20 as varchar))
                when 1 then link('patients', cast(100000000 + (p + 7) % n_patients as varchar))
                end,
            'patient', link('patients', pid),
            'referral_source_type', link('referral_source_types', cast(kind + 1 as varchar)),
            'links', json_object('self', '{BASE}/patients/' || pid || '/referral_source'),
            'id', pid) as record
        from (select *, dice(k, p, 'source') % 4 as kind from patients)
        where dice(k, p, 'has_source') < 600""",
    "patient_cases": """
        select account, case_id as id, ts(received) as updated_at, json_object(
            'id', case_id, 'created_at', ts(received), 'updated_at', ts(received),
            'issue_date', cast(cast(received as date) as varchar), 'expiry_date', null,
            'referral', is_referral, 'referral_type', null, 'max_sessions', null,
            'closed', false, 'closed_at', null, 'archived_at', null,
            'contact', case when is_referral then link('contacts', cast(1 + c % 20 as varchar))
                end,
            'patient', link('patients', pid),
            'links', self_link('patient_cases', case_id)) as record
        from cases""",
    "patient_forms": """
        select account, form_id as id, ts(coalesce(completed, sent)) as updated_at, json_object(
            'id', form_id, 'created_at', ts(sent), 'updated_at', ts(coalesce(completed, sent)),
            'name', 'New Patient Intake', 'completed_at', ts(completed), 'edited_at', null,
            'archived_at', null, 'business', link('businesses', '1'),
            'patient', link('patients', pid), 'links', self_link('patient_forms', form_id),
            'heard_about_answer', case when completed is not null then
                ['Google', 'a friend', 'my GP', 'Instagram', 'Peak Gym', 'walked past'][
                    1 + dice(k, c, 'answer') % 6] end) as record
        from (
            select *, cast(400000000 + c as varchar) as form_id,
                received + interval 2 hour as sent,
                case when dice(k, c, 'form') < 800 then received + interval 26 hour end
                    as completed
            from cases
        )""",
    "individual_appointments": """
        select account, appt_id as id, ts(updated) as updated_at, json_object(
            'id', appt_id, 'created_at', ts(booked), 'updated_at', ts(updated),
            'starts_at', ts(starts), 'ends_at', ts(starts + interval 45 minute),
            'cancelled_at', ts(cancelled),
            'cancellation_reason', case when cancelled is not null then 30 end,
            'cancellation_reason_description', case when cancelled is not null then 'Sick' end,
            'did_not_arrive', is_dna, 'patient_arrived', is_arrived,
            'archived_at', ts(archived), 'deleted_at', null, 'invoice_status', null,
            'online_booking_policy_accepted', null,
            'appointment_type', link('appointment_types', case j when 0 then '1' else '2' end),
            'business', link('businesses', '1'),
            'practitioner', link('practitioners', cast(1 + c % 3 as varchar)),
            'patient', link('patients', pid),
            'patient_case', link('patient_cases', case_id),
            'links', self_link('individual_appointments', appt_id)) as record
        from appointments""",
    "invoices": """
        select account, invoice_id as id, ts(issued) as updated_at, json_object(
            'id', invoice_id, 'created_at', ts(issued), 'updated_at', ts(issued),
            'number', row_number() over (partition by account order by appt_id),
            'issue_date', cast(cast(issued as date) as varchar),
            'total_amount', '75.00', 'net_amount', '75.00', 'tax_amount', '0.00',
            'discounted_amount', '0.00', 'status', 20, 'status_description', 'Paid',
            'closed_at', null, 'deleted_at', null, 'archived_at', null,
            'appointment', link('appointments', appt_id),
            'business', link('businesses', '1'),
            'practitioner', link('practitioners', cast(1 + c % 3 as varchar)),
            'patient', link('patients', pid), 'links', self_link('invoices', invoice_id))
            as record
        from (
            select *, cast(600000000 + c * 16 + j as varchar) as invoice_id,
                starts + interval 1 hour as issued
            from appointments
            where is_arrived and dice(k, c * 16 + j, 'invoice') < 900
        )""",
}

ENTITIES = f"""
create or replace table clinics as
select k, printf('clinic%03d', k) as account,
    timestamp '{END}' - interval {HISTORY_DAYS + 30} day as t0
from range(1, $clinics + 1) t(k);

create or replace table cases as
select k, account, c,
    cast(200000000 + c as varchar) as case_id,
    cast(100000000 + c % n_patients as varchar) as pid,
    -- Spread over the history, at office hours.
    timestamp '{END}' - interval {HISTORY_DAYS} day
        + to_seconds(cast(c * {HISTORY_DAYS} * 86400.0 / $referrals as bigint))
        + to_seconds(cast(dice(k, c, 'minute') * 36 as bigint)) as received,
    dice(k, c, 'referral') < 400 as is_referral
from clinics, range(0, $referrals) t(c), (select cast($referrals * 0.9 as bigint) as n_patients);

create or replace table patients as
select k, account, p, cast(100000000 + p as varchar) as pid, n_patients,
    timestamp '{END}' - interval {HISTORY_DAYS} day
        + to_seconds(cast(p * {HISTORY_DAYS} * 86400.0 / $referrals as bigint))
        - interval 1 hour as created
from clinics, range(0, cast($referrals * 0.9 as bigint)) t(p),
    (select cast($referrals * 0.9 as bigint) as n_patients);

-- 0 to 12 appointments per referral (6 on average), weekly from three days after it came in.
create or replace table appointments as
select *,
    -- Everything that happened by the world's end is settled; later ones are still booked.
    not is_cancelled_flag and not is_dna_flag and starts < timestamp '{END}' as is_arrived,
    is_dna_flag and starts < timestamp '{END}' as is_dna,
    case when is_cancelled_flag then least(starts - interval 1 day, timestamp '{END}') end
        as cancelled,
    case when dice(k, c * 16 + j, 'archive') < 10 then booked + interval 1 hour end as archived,
    least(greatest(booked, case when starts < timestamp '{END}' then starts
        + interval 1 hour else booked end), timestamp '{END}') as updated
from (
    select cases.*, j,
        cast(300000000 + c * 16 + j as varchar) as appt_id,
        received + interval 1 day + to_seconds(j * 60) as booked,
        received + to_seconds((3 + 7 * j) * 86400 + 9 * 3600) as starts,
        dice(k, c * 16 + j, 'cancel') < 80 as is_cancelled_flag,
        dice(k, c * 16 + j, 'dna') between 80 and 129 as is_dna_flag
    from cases, range(0, 13) t(j)
    where j < dice(k, c, 'appointments') % 13
);
"""


def _copy(
    con: duckdb.DuckDBPyConnection,
    query: str,
    out: Path,
    stream: str,
    run_id: str,
    extracted_at: str,
) -> int:
    """Land one stream's rows as `<out>/cliniko/<account>/<stream>/<run_id>-00001.parquet`."""
    staging = out / ".staging" / stream
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"""
        copy (
            select 'cliniko' as source_kind, account, '{stream}' as stream, id, updated_at,
                timestamptz '{extracted_at}+00' as extracted_at, '{run_id}' as run_id,
                cast(record as varchar) as record
            from ({query})
            order by account, id
        ) to '{staging}' (format parquet, compression zstd, partition_by (account),
            write_partition_columns true, overwrite_or_ignore true)
        """
    )
    landed = []
    for part in sorted(staging.glob("account=*")):
        account = part.name.split("=", 1)[1]
        target = out / "cliniko" / account / stream
        target.mkdir(parents=True, exist_ok=True)
        for seq, file in enumerate(sorted(part.glob("*.parquet")), start=1):
            file.rename(target / f"{run_id}-{seq:05d}.parquet")
            landed.append(str(target / f"{run_id}-{seq:05d}.parquet"))
    if not landed:
        return 0
    return con.execute("select count(*) from read_parquet($files)", {"files": landed}).fetchone()[0]


def _empty_batch(out: Path, account: str, stream: str, run_id: str) -> None:
    import pyarrow.parquet as pq

    folder = out / "cliniko" / account / stream
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(RAW_SCHEMA.empty_table(), folder / f"{run_id}-00001.parquet")


def generate(
    out: Path,
    clinics: int,
    referrals: int = REFERRALS_PER_CLINIC,
    changes: float | None = None,
    night: int = 0,
    memory_limit: str = "3GB",
) -> dict[str, int]:
    """Land the base world (changes None) or one night's delta; returns rows per stream."""
    from flows.registry import land_registry
    from flows.transform import ensure_raw_layout

    con = duckdb.connect()
    con.execute(f"set memory_limit = '{memory_limit}'; set preserve_insertion_order = false")
    con.execute(MACROS)
    params = {"clinics": clinics, "referrals": referrals}
    for statement in ENTITIES.split(";\n"):
        if statement.strip():
            con.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})
    counts: dict[str, int] = {}
    if changes is None:
        run_id, extracted_at = "bench-base", LANDED_AT
        for stream in GENERATED:
            counts[stream] = _copy(con, RECORDS[stream], out, stream, run_id, extracted_at)
        for stream in STREAMS[len(GENERATED) :]:
            _empty_batch(out, "clinic001", stream, run_id)
            counts[stream] = 0
        land_registry(None, out)
        ensure_raw_layout(out)  # empty FHIR / CSV streams: dbt's globs for them must match
    else:
        run_id = f"bench-night-{night}"
        extracted_at = f"2026-12-{1 + night:02d} 02:00:00"
        edited = f"2026-12-{night:02d}T18:00:00Z" if night else "2026-11-30T18:00:00Z"
        share = round(changes * 1_000_000)
        for stream in GENERATED:
            # The chosen records, edited that evening: a new version of each.
            query = f"""
                select account, id, '{edited}' as updated_at,
                    json_merge_patch(record, json_object('updated_at', '{edited}')) as record
                from ({RECORDS[stream]})
                where hash(account, id, {night}) % 1000000 < {share}
            """
            counts[stream] = _copy(con, query, out, stream, run_id, extracted_at)
    shutil.rmtree(out / ".staging", ignore_errors=True)
    con.close()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the raw landing folder to write (a home's raw/)")
    parser.add_argument("--clinics", type=int, default=1)
    parser.add_argument(
        "--referrals",
        type=int,
        default=REFERRALS_PER_CLINIC,
        help="referrals per clinic (default %(default)s)",
    )
    parser.add_argument("--changes", type=float, help="land a delta: the share of records edited")
    parser.add_argument("--night", type=int, default=1, help="which night the delta is (1, 2, ...)")
    args = parser.parse_args()
    started = time.monotonic()
    counts = generate(args.out, args.clinics, args.referrals, args.changes, args.night)
    print(json.dumps({"rows": counts, "seconds": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    main()
