-- One row: the months the Overview compares, fixed when the site is built. The latest full
-- month is judged from the data (the day after the newest referral), not from the build clock,
-- so a site built from an older marts file still compares months that have data.
select
    (date_trunc('month', max(received_at)::date + 1) - interval 1 month)::date as latest_full_month,
    (date_trunc('month', max(received_at)::date + 1) - interval 2 month)::date as previous_month,
    date_trunc('second', timezone('UTC', now())) as built_at
from main.referrals
