-- One row: the months the Overview compares, fixed when the site is built (UTC), so a page
-- viewed later in the browser does not shift its "latest full month".
select
    (date_trunc('month', timezone('UTC', now())) - interval 1 month)::date as latest_full_month,
    (date_trunc('month', timezone('UTC', now())) - interval 2 month)::date as previous_month,
    date_trunc('second', timezone('UTC', now())) as built_at
