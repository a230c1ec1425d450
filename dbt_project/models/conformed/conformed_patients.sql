-- One row per patient of every source, pseudonymised at landing (docs/contracts.md "Conformed
-- layer"). Cliniko: patients. CSV: patient exports (no consent field: not shared).
with

cliniko as (

    select
        source_kind,
        account as source_name,
        account,
        patient_id,
        patient_key,
        birth_year,
        postcode_district,
        shares_with_referrer,
        is_deleted,
        extracted_at
    from {{ ref('stg_cliniko__patients') }}

),

fhir as (

    select
        source_kind,
        account as source_name,
        account,
        patient_id,
        patient_key,
        birth_year,
        postcode_district,
        shares_with_referrer,
        false as is_deleted,
        extracted_at
    from {{ ref('stg_fhir__patients') }}

),

csv as (

    select
        source_kind,
        account as source_name,
        account,
        patient_id,
        patient_key,
        birth_year,
        postcode_district,
        false as shares_with_referrer,
        false as is_deleted,
        extracted_at
    from {{ ref('stg_csv__patients') }}

),

final as (

    select * from cliniko
    union all
    select * from fhir
    union all
    select * from csv

)

select * from final
