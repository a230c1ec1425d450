-- One row per partner.
select
    partner_id::varchar as partner_id,
    partner_name,
    partner_kind,
    tier,
    is_registered,
    referrals::bigint as referrals,
    timezone('UTC', first_referral_at) as first_referral_at,
    timezone('UTC', last_referral_at) as last_referral_at
from main.partners
-- Always one placeholder row (partner_id ''): a column null in every real row (tier without a
-- registry, the dates without referrals) would lose its type in the site's Parquet, and page
-- SQL over it would fail. Pages drop the row (partner_id <> '').
union all
select '', '', '', '', false, 0::bigint, timestamp '1970-01-01', timestamp '1970-01-01'
