-- One row of nulls, not zero rows: DuckDB-WASM 0.9.1 cannot read the empty Parquet file
-- Evidence writes for a zero-row source, and the build dies. Pages drop the null row.
select
    null::varchar as partner_id,
    null::varchar as period,
    null::bigint as referrals,
    null::bigint as seen,
    null::double as median_days_to_first_appointment

