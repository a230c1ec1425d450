with

journey as (

    select * from {{ ref('int_referrals_journey') }}

),

attributed as (

    select
        referral_id,
        partner_id,
        attribution_method,
        attribution_confidence,
        referral_record_partner_id,
        booking_code_partner_id,
        referral_source_partner_id,
        intake_answer_partner_id,
        has_conflicting_signals
    from {{ ref('int_referrals_attributed') }}

),

partners as (

    select
        partner_id,
        partner_name,
        partner_kind
    from {{ ref('int_partners_unified') }}

),

-- Consent to share progress with the referrer (a patient custom field; absent = not shared).
patients as (

    select
        account,
        patient_id,
        shares_with_referrer
    from {{ ref('conformed_patients') }}

),

businesses as (

    select
        account,
        business_id,
        clinic_name
    from {{ ref('conformed_clinics') }}

),

final as (

    select
        journey.referral_id,
        journey.source_kind,
        journey.account,
        journey.account as source_name,
        journey.clinic_id,
        coalesce(businesses.clinic_name, 'Unassigned clinic') as clinic_name,
        attributed.partner_id,
        partners.partner_name,
        partners.partner_kind,
        attributed.attribution_method,
        journey.received_at,
        journey.received_month,
        journey.contacted_at,
        journey.intake_completed_at,
        journey.first_booked_at,
        journey.first_appointment_at,
        journey.first_attended_at,
        journey.attended_appointments,
        journey.is_booked,
        journey.is_attended,
        journey.is_continued,
        journey.drop_off,
        journey.hours_to_contact,
        journey.days_to_book,
        journey.days_to_first_appointment,
        journey.revenue,
        -- Beyond the contract: lineage, review and rate inputs.
        journey.patient_case_id,
        journey.time_zone,
        journey.received_local_date,
        journey.intake_sent_at,
        journey.first_appointment_status,
        journey.appointments,
        journey.cancelled_appointments,
        journey.no_show_appointments,
        attributed.attribution_confidence,
        attributed.referral_record_partner_id,
        attributed.booking_code_partner_id,
        attributed.referral_source_partner_id,
        attributed.intake_answer_partner_id,
        attributed.has_conflicting_signals,
        {{ quarter_start('journey.received_month') }} as received_quarter,
        coalesce(patients.shares_with_referrer, false) as is_shared_with_referrer
    from journey
    inner join attributed
        on journey.referral_id = attributed.referral_id
    left join partners
        on attributed.partner_id = partners.partner_id
    left join businesses
        on journey.account = businesses.account
        and journey.business_id = businesses.business_id
    left join patients
        on journey.account = patients.account
        and journey.patient_id = patients.patient_id

)

select * from final
