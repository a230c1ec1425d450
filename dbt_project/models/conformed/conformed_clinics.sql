-- One row per clinic of every source (docs/contracts.md "Conformed layer"). Cliniko: businesses.
-- CSV: the clinics a source's exports name, in the zone of the source's config.
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

csv as (

    select
        source_kind,
        account as source_name,
        account,
        clinic_id as business_id,
        clinic_name,
        time_zone as time_zone_identifier,
        cast(null as varchar) as country_code,
        false as is_archived,
        false as is_deleted,
        extracted_at
    from {{ ref('stg_csv__clinics') }}

),

final as (

    select * from cliniko
    union all
    select * from fhir
    union all
    select * from csv

)

select * from final
