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
