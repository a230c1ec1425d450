-- One row per appointment of every source, deleted ones flagged (docs/contracts.md "Conformed
-- layer"). Cliniko: individual appointments; its API deletes an appointment by archiving it,
-- so archived counts as deleted. Cancelled ones are real and kept. CSV: appointment exports,
-- whose mapped status becomes the flags (no export deletes: a row gone from a later export is
-- not known to be deleted).
with

cliniko as (

    select
        source_kind,
        account as source_name,
        account,
        appointment_id,
        patient_id,
        patient_case_id,
        business_id,
        practitioner_id,
        appointment_type_id,
        created_at,
        starts_at,
        ends_at,
        cancelled_at,
        cancellation_reason,
        is_cancelled,
        is_did_not_arrive,
        has_patient_arrived,
        is_deleted or coalesce(is_archived, false) as is_deleted,
        extracted_at
    from {{ ref('stg_cliniko__individual_appointments') }}

),

fhir_service_requests as (

    select
        account,
        service_request_id
    from {{ ref('stg_fhir__service_requests') }}

),

-- FHIR: Appointments that are booked or past booking (proposed / pending / waitlist ones are
-- requests, not appointments yet: they stay in staging). `basedOn` links the referral when that
-- ServiceRequest is known, else the referral is inferred downstream like an unlinked Cliniko
-- appointment. R4 has no cancellation time: a cancelled one's last update stands in.
fhir as (

    select
        appointments.source_kind,
        appointments.account as source_name,
        appointments.account,
        appointments.appointment_id,
        appointments.patient_id,
        fhir_service_requests.service_request_id as patient_case_id,
        appointments.location_id as business_id,
        appointments.practitioner_id,
        appointments.appointment_type_id,
        coalesce(appointments.created_at, least(appointments.updated_at, appointments.starts_at)) as created_at,
        appointments.starts_at,
        appointments.ends_at,
        case when appointments.status = 'cancelled' then appointments.updated_at end as cancelled_at,
        appointments.cancellation_reason,
        appointments.status = 'cancelled' as is_cancelled,
        appointments.status = 'noshow' as is_did_not_arrive,
        appointments.status in ('arrived', 'checked-in', 'fulfilled') as has_patient_arrived,
        appointments.status = 'entered-in-error' as is_deleted,
        appointments.extracted_at
    from {{ ref('stg_fhir__appointments') }} as appointments
    left join fhir_service_requests
        on appointments.account = fhir_service_requests.account
        and appointments.service_request_id = fhir_service_requests.service_request_id
    where coalesce(appointments.status, '') not in ('proposed', 'pending', 'waitlist')

),

csv as (

    select
        source_kind,
        account as source_name,
        account,
        appointment_id,
        patient_id,
        referral_id as patient_case_id,
        clinic_id as business_id,
        practitioner_id,
        appointment_type as appointment_type_id,
        booked_at as created_at,
        starts_at,
        ends_at,
        cancelled_at,
        cancellation_reason,
        is_cancelled,
        is_did_not_arrive,
        has_patient_arrived,
        false as is_deleted,
        extracted_at
    from {{ ref('stg_csv__appointments') }}

),

final as (

    select * from cliniko
    union all
    select * from fhir
    union all
    select * from csv

)

select * from final
