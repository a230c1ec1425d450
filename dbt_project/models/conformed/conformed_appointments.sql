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
    select * from csv

)

select * from final
