-- One row per clinic x quarter (and '(all)' clinics): unknown share, active partners, the
-- top-5 partners' share and the Herfindahl concentration index of referrals over partners.
-- Stands in for issue 4's network_summary mart until it is published.
-- Without a referral source: one placeholder row (clinic_id ''), as in referrals_monthly.sql.
with by_partner as (
    select
        coalesce(clinic_id::varchar, '(all)') as clinic_id,
        date_trunc('quarter', received_month)::date as quarter,
        partner_id,
        any_value(attribution_method = 'unknown') as is_unknown,
        count(*) as referrals
    from main.referrals
    group by grouping sets (
        (clinic_id, date_trunc('quarter', received_month), partner_id, attribution_method = 'unknown'),
        (date_trunc('quarter', received_month), partner_id, attribution_method = 'unknown')
    )
),
ranked as (
    select
        *,
        row_number() over (
            partition by clinic_id, quarter order by is_unknown, referrals desc, partner_id
        ) as rank,
        sum(referrals) over (partition by clinic_id, quarter) as total
    from by_partner
),
source_rows as (
    select
        clinic_id,
        quarter,
        sum(referrals)::bigint as referrals,
        (sum(referrals) filter (where is_unknown) / any_value(total))::double as unknown_share,
        count(*) filter (where not is_unknown)::bigint as active_partners,
        (sum(referrals) filter (where rank <= 5 and not is_unknown) / any_value(total))::double
            as top5_share,
        sum((referrals / total) ^ 2) filter (where not is_unknown)::double as concentration_index
    from ranked
    group by clinic_id, quarter
)
select * from source_rows
union all
select '', date '1970-01-01', 0::bigint, 0::double, 0::bigint, 0::double, 0::double
where not exists (select 1 from source_rows)
