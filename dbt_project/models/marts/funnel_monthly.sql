with

referrals as (

    select
        clinic_id,
        clinic_name,
        partner_kind,
        received_month,
        contacted_at,
        intake_completed_at,
        is_booked,
        is_attended,
        is_continued,
        drop_off
    from {{ ref('referrals') }}

),

final as (

    select
        clinic_id,
        clinic_name,
        partner_kind,
        received_month as month,
        cast(count(*) as bigint) as received,
        cast(count(contacted_at) as bigint) as contacted,
        cast(count(intake_completed_at) as bigint) as intake_completed,
        cast(sum(case when is_booked then 1 else 0 end) as bigint) as booked,
        cast(sum(case when is_attended then 1 else 0 end) as bigint) as attended,
        cast(sum(case when is_continued then 1 else 0 end) as bigint) as continued,
        cast(sum(case when drop_off = 'not_contacted' then 1 else 0 end) as bigint) as not_contacted,
        cast(sum(case when drop_off = 'intake_not_completed' then 1 else 0 end) as bigint)
            as intake_not_completed,
        cast(sum(case when drop_off = 'not_booked' then 1 else 0 end) as bigint) as not_booked,
        cast(sum(case when drop_off = 'cancelled' then 1 else 0 end) as bigint) as cancelled,
        cast(sum(case when drop_off = 'did_not_attend' then 1 else 0 end) as bigint) as did_not_attend,
        cast(sum(case when drop_off = 'single_visit' then 1 else 0 end) as bigint) as single_visit,
        cast(sum(case when drop_off = 'in_progress' then 1 else 0 end) as bigint) as in_progress
    from referrals
    group by clinic_id, clinic_name, partner_kind, received_month

)

select * from final
