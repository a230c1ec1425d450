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

-- FHIR: Locations (where appointments take place).
fhir as (

    select
        source_kind,
        account as source_name,
        account,
        location_id as business_id,
        location_name as clinic_name,
        time_zone_identifier,
        country_code,
        is_archived,
        false as is_deleted,
        extracted_at
    from {{ ref('stg_fhir__locations') }}

),

final as (

    select * from cliniko
    union all
    select * from fhir

)

select * from final
