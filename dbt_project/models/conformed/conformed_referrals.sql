-- One row per referral (an episode of care) of every source (docs/contracts.md "Conformed
-- layer"). Cliniko: patient cases, received when created, the referrer in `contact`.
with

cliniko as (

    select
        source_kind,
        account as source_name,
        account,
        patient_case_id,
        patient_id,
        contact_id,
        is_referral,
        created_at,
        is_deleted,
        extracted_at
    from {{ ref('stg_cliniko__patient_cases') }}

),

final as (

    select * from cliniko

)

select * from final
