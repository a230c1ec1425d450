-- Months are the referral's received month in its clinic's local time (a referral cohort):
-- a referral received in March counts in March however late it books or attends.
with

referrals as (

    select
        partner_id,
        partner_name,
        partner_kind,
        received_month,
        is_booked,
        is_attended,
        days_to_first_appointment,
        appointments,
        attended_appointments,
        cancelled_appointments,
        no_show_appointments,
        revenue
    from {{ ref('referrals') }}

),

aggregated as (

    select
        partner_id,
        partner_name,
        partner_kind,
        received_month as month,
        count(*) as referrals,
        sum(case when is_booked then 1 else 0 end) as booked,
        sum(case when is_attended then 1 else 0 end) as attended,
        -- median(): DuckDB (elsewhere percentile_cont(0.5) within group (order by ...)).
        median(days_to_first_appointment) as median_days_to_first_appointment,
        -- quantile_cont(): DuckDB (elsewhere percentile_cont(0.9) within group (order by ...)).
        quantile_cont(days_to_first_appointment, 0.9) as p90_days_to_first_appointment,
        sum(appointments) as appointments,
        sum(attended_appointments) as attended_appointments,
        sum(cancelled_appointments) as cancelled_appointments,
        sum(no_show_appointments) as no_show_appointments,
        sum(revenue) as revenue
    from referrals
    group by partner_id, partner_name, partner_kind, received_month

),

final as (

    select
        partner_id,
        partner_name,
        partner_kind,
        month,
        cast(referrals as bigint) as referrals,
        cast(booked as bigint) as booked,
        cast(attended as bigint) as attended,
        cast(round(booked * 1.0 / referrals, 4) as double) as booked_rate,
        cast(round(attended * 1.0 / referrals, 4) as double) as attended_rate,
        cast(median_days_to_first_appointment as double) as median_days_to_first_appointment,
        cast(round(p90_days_to_first_appointment, 2) as double) as p90_days_to_first_appointment,
        -- DNA rate: no-shows over appointments that were due (attended + no-show).
        cast(round(no_show_appointments * 1.0
            / nullif(attended_appointments + no_show_appointments, 0), 4) as double) as dna_rate,
        -- Cancellation rate: cancelled over all (non-deleted) appointments.
        cast(round(cancelled_appointments * 1.0 / nullif(appointments, 0), 4) as double)
            as cancellation_rate,
        cast(revenue as decimal(18, 2)) as revenue,
        cast(appointments as bigint) as appointments
    from aggregated

)

select * from final
