-- One row per partner: how fast its referrals are seen, all time.
select
    partner_id::varchar as partner_id,
    count(*)::bigint as referrals,
    median(hours_to_contact)::double as median_hours_to_contact,
    median(days_to_book)::double as median_days_to_book,
    median(days_to_first_appointment)::double as median_days_to_first_appointment,
    quantile_cont(days_to_first_appointment, 0.9)::double as p90_days_to_first_appointment
from main.referrals
group by partner_id
