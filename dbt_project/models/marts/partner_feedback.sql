-- One row per partner and quarter (received quarter, clinic local time) with at least one
-- referral: what the clinic may tell the partner. Counted only over referrals whose patient
-- consented to sharing (`is_shared_with_referrer`: the "Share my progress with my referrer"
-- custom field; no answer = no consent). Below var `feedback_min_count` consenting referrals the
-- figures are suppressed (null), so a partner cannot recognise one patient in them.
-- Kinds in var `feedback_excluded_kinds` (patients, search engines, unknown) get no summary.
{%- set excluded_kinds = var('feedback_excluded_kinds') %}

with

referrals as (

    select
        partner_id,
        partner_name,
        partner_kind,
        received_quarter as period,
        is_shared_with_referrer,
        is_attended,
        days_to_first_appointment
    from {{ ref('referrals') }}
    where partner_kind not in ({% for kind in excluded_kinds %}'{{ kind }}'{{ ", " if not loop.last }}{% endfor %})

),

counted as (

    select
        partner_id,
        partner_name,
        partner_kind,
        period,
        count(*) filter (where is_shared_with_referrer) as shared_referrals,
        count(*) filter (where is_shared_with_referrer and is_attended) as shared_seen,
        median(days_to_first_appointment) filter (where is_shared_with_referrer)
            as shared_median_days_to_first_appointment
    from referrals
    group by partner_id, partner_name, partner_kind, period

),

final as (

    select
        partner_id,
        partner_name,
        partner_kind,
        period,
        cast(extract(year from period) as varchar) || '-Q' || cast(extract(quarter from period) as varchar)
            as period_label,
        shared_referrals < {{ var('feedback_min_count') }} as is_suppressed,
        cast(case when shared_referrals >= {{ var('feedback_min_count') }} then shared_referrals end as bigint)
            as referrals,
        cast(case when shared_referrals >= {{ var('feedback_min_count') }} then shared_seen end as bigint)
            as seen,
        cast(case when shared_referrals >= {{ var('feedback_min_count') }}
            then round(shared_median_days_to_first_appointment, 2) end as double)
            as median_days_to_first_appointment
    from counted

)

select * from final
