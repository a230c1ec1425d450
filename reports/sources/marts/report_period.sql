-- One row: the months the Overview compares, fixed when the site is built. The latest full
-- month is judged from the data (the day after the newest referral), not from the build clock,
-- so a site built from an older marts file still compares months that have data; without
-- referrals (no configured source provides them: the gate lets such a site publish only then),
-- from the newest appointment. has_referrals tells the pages which of the two sites this is.
with latest as (
    select coalesce(
        (select max(received_at)::date from main.referrals),
        (select max(starts_local_date) from main.appointments),
        current_date
    ) as last_day
)
select
    (date_trunc('month', last_day + 1) - interval 1 month)::date as latest_full_month,
    (date_trunc('month', last_day + 1) - interval 2 month)::date as previous_month,
    date_trunc('second', timezone('UTC', now())) as built_at,
    exists (select 1 from main.referrals) as has_referrals
from latest
