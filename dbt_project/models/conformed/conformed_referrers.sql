-- One row per referrer the practice-management system knows (a person or organisation that can
-- be named on a referral; docs/contracts.md "Conformed layer"). Cliniko: contacts.
with

cliniko as (

    select
        source_kind,
        account as source_name,
        account,
        contact_id,
        contact_name,
        contact_type,
        doctor_type,
        occupation,
        company_name,
        is_deleted,
        extracted_at
    from {{ ref('stg_cliniko__contacts') }}

),

final as (

    select * from cliniko

)

select * from final
