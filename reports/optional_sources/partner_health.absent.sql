-- One placeholder row (empty-string id), not zero rows: DuckDB-WASM 0.9.1 cannot read the empty
-- Parquet file Evidence writes for a zero-row source, and all-null columns lose their type.
-- Pages drop the row (it matches no partner; they filter out '').
select
    '' as partner_id,
    '' as status,
    timestamp '1970-01-01' as last_referral_at,
    timestamp '1970-01-01' as last_touchpoint_at,
    date '1970-01-01' as checkin_due_date,
    0::bigint as referrals_last_90d,
    0::bigint as referrals_prior_90d
