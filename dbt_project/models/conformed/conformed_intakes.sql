-- One row per intake form of every source, with the answer to the clinic's "how did you hear
-- about us" question (docs/contracts.md "Conformed layer"). Cliniko: patient forms.
with

cliniko as (

    select
        source_kind,
        account as source_name,
        account,
        patient_form_id,
        patient_id,
        business_id,
        heard_about_answer,
        sent_at,
        completed_at,
        is_deleted,
        extracted_at
    from {{ ref('stg_cliniko__patient_forms') }}

),

final as (

    select * from cliniko

)

select * from final
