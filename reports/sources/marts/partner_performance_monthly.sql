-- One row per partner x month (months with at least one referral).
select
    partner_id::varchar as partner_id,
    partner_name,
    partner_kind,
    month::date as month,
    referrals::bigint as referrals,
    booked::bigint as booked,
    attended::bigint as attended,
    booked_rate::double as booked_rate,
    attended_rate::double as attended_rate,
    median_days_to_first_appointment::double as median_days_to_first_appointment,
    dna_rate::double as dna_rate,
    cancellation_rate::double as cancellation_rate,
    revenue::double as revenue
from main.partner_performance_monthly
