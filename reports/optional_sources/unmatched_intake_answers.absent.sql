-- One placeholder row (empty-string id), not zero rows: DuckDB-WASM 0.9.1 cannot read the empty
-- Parquet file Evidence writes for a zero-row source, and all-null columns lose their type.
-- Pages drop the row (it matches no partner; they filter out '').
select
    '' as answer,
    0::bigint as referrals,
    0::bigint as unknown_referrals,
    '' as suggested_partner_id,
    '' as suggested_partner_name,
    false as is_non_answer
