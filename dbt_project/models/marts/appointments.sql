-- One row per (non-deleted) appointment with its canonical status, its referral and that
-- referral's partner. The heavy lifting is incremental upstream (int_appointments_classified).
with

appointments as (

    select
        appointment_key,
        source_kind,
        account,
        referral_id,
        business_id,
        practitioner_id,
        appointment_type_id,
        booked_at,
        starts_at,
        ends_at,
        cancelled_at,
        cancellation_reason,
        status,
        is_attended,
        is_cancelled,
        is_no_show,
        is_pending,
        is_first_appointment,
        appointment_sequence,
        is_patient_case_inferred,
        has_invoice,
        revenue,
        time_zone,
        starts_local_date
    from {{ ref('int_appointments_classified') }}
    where status <> 'deleted'

),

referrals as (

    select
        referral_id,
        clinic_id,
        partner_id
    from {{ ref('referrals') }}

),

final as (

    select
        appointments.appointment_key as appointment_id,
        appointments.source_kind,
        appointments.account,
        appointments.account as source_name,
        appointments.referral_id,
        -- The appointment's own clinic; else its referral's; else the account's unassigned one.
        coalesce(
            {{ clinic_id('appointments.source_kind', 'appointments.account', 'appointments.business_id') }},
            referrals.clinic_id,
            appointments.source_kind || ':' || appointments.account || ':unassigned'
        ) as clinic_id,
        referrals.partner_id,
        appointments.status,
        appointments.booked_at,
        appointments.starts_at,
        appointments.ends_at,
        appointments.cancelled_at,
        appointments.cancellation_reason,
        appointments.starts_local_date,
        cast(date_trunc('month', appointments.starts_local_date) as date) as starts_month,
        appointments.time_zone,
        appointments.is_attended,
        appointments.is_cancelled,
        appointments.is_no_show,
        appointments.is_pending,
        appointments.is_first_appointment,
        cast(appointments.appointment_sequence as bigint) as appointment_sequence,
        appointments.is_patient_case_inferred,
        appointments.has_invoice,
        cast(appointments.revenue as decimal(18, 2)) as revenue,
        appointments.practitioner_id,
        appointments.appointment_type_id
    from appointments
    left join referrals
        on appointments.referral_id = referrals.referral_id

)

select * from final
