-- One row per invoice of every source, linked to its appointment (docs/contracts.md
-- "Conformed layer"). Cliniko: invoices; cancelled = closed without being paid (staging).
with

cliniko as (

    select
        source_kind,
        account as source_name,
        account,
        invoice_id,
        patient_id,
        appointment_id,
        total_amount,
        is_cancelled,
        is_deleted,
        extracted_at
    from {{ ref('stg_cliniko__invoices') }}

),

fhir as (

    select
        source_kind,
        account as source_name,
        account,
        invoice_id,
        patient_id,
        appointment_id,
        total_amount,
        is_cancelled,
        is_deleted,
        extracted_at
    from {{ ref('stg_fhir__invoices') }}

),

final as (

    select * from cliniko
    union all
    select * from fhir

)

select * from final
