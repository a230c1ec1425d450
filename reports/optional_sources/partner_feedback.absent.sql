-- One placeholder row (empty-string id), not zero rows: DuckDB-WASM 0.9.1 cannot read the empty
-- Parquet file Evidence writes for a zero-row source, and all-null columns lose their type.
-- Pages drop the row (it matches no partner; they filter out '').
select
    '' as partner_id,
    '' as period,
    0::bigint as referrals,
    0::bigint as seen,
    0::double as median_days_to_first_appointment
