-- One row per clinic x partner kind x month.
select
    clinic_id::varchar as clinic_id,
    clinic_name,
    partner_kind,
    month::date as month,
    received::bigint as received,
    contacted::bigint as contacted,
    intake_completed::bigint as intake_completed,
    booked::bigint as booked,
    attended::bigint as attended,
    continued::bigint as continued,
    not_contacted::bigint as not_contacted,
    intake_not_completed::bigint as intake_not_completed,
    not_booked::bigint as not_booked,
    cancelled::bigint as cancelled,
    did_not_attend::bigint as did_not_attend,
    single_visit::bigint as single_visit,
    in_progress::bigint as in_progress
from main.funnel_monthly
