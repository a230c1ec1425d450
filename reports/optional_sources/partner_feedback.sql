-- requires: partner_feedback. Per partner x period, consent-aware and suppressed below the
-- minimum count in dbt (issue 4's mart): the only figures the printable feedback page shows.
select
    partner_id::varchar as partner_id,
    period::varchar as period,
    referrals::bigint as referrals,
    seen::bigint as seen,
    median_days_to_first_appointment::double as median_days_to_first_appointment
from main.partner_feedback
-- A mart with no rows still yields the placeholder row of partner_feedback.absent.sql.
union all
select
    '' as partner_id,
    '' as period,
    0::bigint as referrals,
    0::bigint as seen,
    0::double as median_days_to_first_appointment
where not exists (select 1 from main.partner_feedback)
