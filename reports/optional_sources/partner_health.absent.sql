-- One row of nulls, not zero rows: DuckDB-WASM 0.9.1 cannot read the empty Parquet file
-- Evidence writes for a zero-row source, and the build dies. Pages drop the null row.
select
    null::varchar as partner_id,
    null::varchar as status,
    null::timestamp as last_referral_at,
    null::timestamp as last_touchpoint_at,
    null::date as checkin_due_date,
    null::bigint as referrals_last_90d,
    null::bigint as referrals_prior_90d

