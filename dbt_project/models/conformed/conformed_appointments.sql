-- One row per appointment of every source, deleted ones flagged (docs/contracts.md "Conformed
-- layer"). Cliniko: individual appointments; its API deletes an appointment by archiving it,
-- so archived counts as deleted. Cancelled ones are real and kept.
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

final as (

    select * from cliniko

)

select * from final
