-- One row per partner x month (months with at least one referral).
-- Without a referral source (a CSV-only clinic) there are no rows: one placeholder row instead
-- (empty-string ids, month 1970-01-01), since DuckDB-WASM cannot read the empty Parquet file of
-- a zero-row source. Pages show a "no referral source" note when report_period.has_referrals
-- is false, and never match the placeholder's ids.
with source_rows as (
    select
        partner_id::varchar as partner_id,
        partner_name,
        partner_kind,
        month::date as month,
        referrals::bigint as referrals,
        booked::bigint as booked,
        attended::bigint as attended,
        booked_rate::double as booked_rate,
        attended_rate::double as attended_rate,
        median_days_to_first_appointment::double as median_days_to_first_appointment,
        dna_rate::double as dna_rate,
        cancellation_rate::double as cancellation_rate,
        revenue::double as revenue
    from main.partner_performance_monthly
)
select * from source_rows
union all
select
    '', '', '', date '1970-01-01', 0::bigint, 0::bigint, 0::bigint,
    0::double, 0::double, 0::double, 0::double, 0::double, 0::double
where not exists (select 1 from source_rows)
