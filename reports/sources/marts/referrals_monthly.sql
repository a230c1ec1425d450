-- One row per clinic x partner x month received: the funnel counted, never a row per referral
-- (no per-referral timestamps reach the browser). Ids as VARCHAR, DECIMAL as DOUBLE.
-- Without a referral source (a CSV-only clinic) there are no rows: one placeholder row instead
-- (empty-string ids, month 1970-01-01), since DuckDB-WASM cannot read the empty Parquet file of
-- a zero-row source. Pages show a "no referral source" note when report_period.has_referrals
-- is false, and never match the placeholder's ids.
with source_rows as (
    select
        clinic_id::varchar as clinic_id,
        clinic_name,
        partner_id::varchar as partner_id,
        partner_name,
        partner_kind,
        received_month::date as month,
        count(*)::bigint as referrals,
        count(contacted_at)::bigint as contacted,
        count(intake_completed_at)::bigint as intake_completed,
        count(*) filter (where is_booked)::bigint as booked,
        count(*) filter (where is_attended)::bigint as attended,
        count(*) filter (where is_continued)::bigint as continued,
        count(*) filter (where drop_off = 'not_contacted')::bigint as not_contacted,
        count(*) filter (where drop_off = 'intake_not_completed')::bigint as intake_not_completed,
        count(*) filter (where drop_off = 'not_booked')::bigint as not_booked,
        count(*) filter (where drop_off = 'cancelled')::bigint as cancelled,
        count(*) filter (where drop_off = 'did_not_attend')::bigint as did_not_attend,
        count(*) filter (where drop_off = 'single_visit')::bigint as single_visit,
        count(*) filter (where drop_off = 'in_progress')::bigint as in_progress,
        count(*) filter (where attribution_method = 'unknown')::bigint as unattributed,
        coalesce(sum(revenue), 0)::double as revenue
    from main.referrals
    group by all
)
select * from source_rows
union all
select
    '', '', '', '', '', date '1970-01-01',
    0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint,
    0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::double
where not exists (select 1 from source_rows)
