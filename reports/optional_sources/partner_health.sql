-- requires: partner_health. One row per partner: status and relationship upkeep (issue 4's mart).
select
    partner_id::varchar as partner_id,
    status::varchar as status,
    timezone('UTC', last_referral_at) as last_referral_at,
    timezone('UTC', last_touchpoint_at::timestamptz) as last_touchpoint_at,
    checkin_due_date::date as checkin_due_date,
    referrals_last_90d::bigint as referrals_last_90d,
    referrals_prior_90d::bigint as referrals_prior_90d
from main.partner_health
-- Always the placeholder row of partner_health.absent.sql: without a registry no partner has a
-- touchpoint or a check-in date, without referrals none has a last referral, and a column null
-- in every row loses its type in the site's Parquet. Pages drop it (partner_id <> '').
union all
select
    '' as partner_id,
    '' as status,
    timestamp '1970-01-01' as last_referral_at,
    timestamp '1970-01-01' as last_touchpoint_at,
    date '1970-01-01' as checkin_due_date,
    0::bigint as referrals_last_90d,
    0::bigint as referrals_prior_90d
