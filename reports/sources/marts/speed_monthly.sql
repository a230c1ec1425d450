-- Medians do not add up, so they are computed here per clinic x month and for all clinics
-- (clinic_id '(all)'); the pages filter on clinic_id.
select
    coalesce(clinic_id::varchar, '(all)') as clinic_id,
    received_month::date as month,
    count(*)::bigint as referrals,
    median(hours_to_contact)::double as median_hours_to_contact,
    median(days_to_book)::double as median_days_to_book,
    median(days_to_first_appointment)::double as median_days_to_first_appointment,
    quantile_cont(days_to_first_appointment, 0.9)::double as p90_days_to_first_appointment
from main.referrals
group by grouping sets ((clinic_id, received_month), (received_month))
