-- One row of nulls, not zero rows: DuckDB-WASM 0.9.1 cannot read the empty Parquet file
-- Evidence writes for a zero-row source, and the build dies. Pages drop the null row.
select
    null::varchar as answer,
    null::bigint as referrals,
    null::bigint as unknown_referrals,
    null::varchar as suggested_partner_id,
    null::double as suggested_similarity

