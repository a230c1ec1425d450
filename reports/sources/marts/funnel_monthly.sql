-- One row per clinic x partner kind x month.
-- Without a referral source (a CSV-only clinic) there are no rows: one placeholder row instead
-- (empty-string ids, month 1970-01-01), since DuckDB-WASM cannot read the empty Parquet file of
-- a zero-row source. Pages show a "no referral source" note when report_period.has_referrals
-- is false, and never match the placeholder's ids.
with source_rows as (
    select
        clinic_id::varchar as clinic_id,
        clinic_name,
        partner_kind,
        month::date as month,
        received::bigint as received,
        contacted::bigint as contacted,
        intake_completed::bigint as intake_completed,
        booked::bigint as booked,
        attended::bigint as attended,
        continued::bigint as continued,
        not_contacted::bigint as not_contacted,
        intake_not_completed::bigint as intake_not_completed,
        not_booked::bigint as not_booked,
        cancelled::bigint as cancelled,
        did_not_attend::bigint as did_not_attend,
        single_visit::bigint as single_visit,
        in_progress::bigint as in_progress
    from main.funnel_monthly
)
select * from source_rows
union all
select
    '', '', '', date '1970-01-01',
    0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint,
    0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint
where not exists (select 1 from source_rows)
