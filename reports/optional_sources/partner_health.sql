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
-- A mart with no rows still yields one (null) row: see partner_health.absent.sql.
union all
select
    null::varchar as partner_id,
    null::varchar as status,
    null::timestamp as last_referral_at,
    null::timestamp as last_touchpoint_at,
    null::date as checkin_due_date,
    null::bigint as referrals_last_90d,
    null::bigint as referrals_prior_90d
where not exists (select 1 from main.partner_health)
