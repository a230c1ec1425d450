-- One row per partner: how fast its referrals are seen, all time.
-- Without a referral source (a CSV-only clinic) there are no rows: one placeholder row instead
-- (empty-string ids, month 1970-01-01), since DuckDB-WASM cannot read the empty Parquet file of
-- a zero-row source. Pages show a "no referral source" note when report_period.has_referrals
-- is false, and never match the placeholder's ids.
with source_rows as (
    select
        partner_id::varchar as partner_id,
        count(*)::bigint as referrals,
        median(hours_to_contact)::double as median_hours_to_contact,
        median(days_to_book)::double as median_days_to_book,
        median(days_to_first_appointment)::double as median_days_to_first_appointment,
        quantile_cont(days_to_first_appointment, 0.9)::double as p90_days_to_first_appointment
    from main.referrals
    group by partner_id
)
select * from source_rows
union all
select '', 0::bigint, 0::double, 0::double, 0::double, 0::double
where not exists (select 1 from source_rows)
