-- One row per clinic of every source (docs/contracts.md "Conformed layer"). Cliniko: businesses.
with

cliniko as (

    select
        source_kind,
        account as source_name,
        account,
        business_id,
        clinic_name,
        time_zone_identifier,
        country_code,
        is_archived,
        is_deleted,
        extracted_at
    from {{ ref('stg_cliniko__businesses') }}

),

final as (

    select * from cliniko

)

select * from final
