-- One row per clinic x partner x month received: the funnel counted, never a row per referral
-- (no per-referral timestamps reach the browser). Ids as VARCHAR, DECIMAL as DOUBLE.
select
    clinic_id::varchar as clinic_id,
    clinic_name,
    partner_id::varchar as partner_id,
    partner_name,
    partner_kind,
    received_month::date as month,
    count(*)::bigint as referrals,
    count(contacted_at)::bigint as contacted,
    count(intake_completed_at)::bigint as intake_completed,
    count(*) filter (where is_booked)::bigint as booked,
    count(*) filter (where is_attended)::bigint as attended,
    count(*) filter (where is_continued)::bigint as continued,
    count(*) filter (where drop_off = 'not_contacted')::bigint as not_contacted,
    count(*) filter (where drop_off = 'intake_not_completed')::bigint as intake_not_completed,
    count(*) filter (where drop_off = 'not_booked')::bigint as not_booked,
    count(*) filter (where drop_off = 'cancelled')::bigint as cancelled,
    count(*) filter (where drop_off = 'did_not_attend')::bigint as did_not_attend,
    count(*) filter (where drop_off = 'single_visit')::bigint as single_visit,
    count(*) filter (where drop_off = 'in_progress')::bigint as in_progress,
    count(*) filter (where attribution_method = 'unknown')::bigint as unattributed,
    coalesce(sum(revenue), 0)::double as revenue
from main.referrals
group by all
