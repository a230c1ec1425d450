-- One row per patient with a structured referral source (how the patient came, as the clinic
-- recorded it; docs/contracts.md "Conformed layer"). Cliniko: referral sources with their
-- type's name.
with

cliniko_referral_sources as (

    select
        source_kind,
        account,
        patient_id,
        referral_source_type_id,
        referrer_type,
        referrer_contact_id,
        subcategory,
        updated_at,
        is_deleted,
        extracted_at
    from {{ ref('stg_cliniko__referral_sources') }}

),

cliniko_referral_source_types as (

    select
        account,
        referral_source_type_id,
        referral_source_type_name
    from {{ ref('stg_cliniko__referral_source_types') }}

),

cliniko as (

    select
        cliniko_referral_sources.source_kind,
        cliniko_referral_sources.account as source_name,
        cliniko_referral_sources.account,
        cliniko_referral_sources.patient_id,
        cliniko_referral_sources.referral_source_type_id,
        cliniko_referral_source_types.referral_source_type_name,
        cliniko_referral_sources.referrer_type,
        cliniko_referral_sources.referrer_contact_id,
        cliniko_referral_sources.subcategory,
        cliniko_referral_sources.updated_at,
        cliniko_referral_sources.is_deleted,
        cliniko_referral_sources.extracted_at
    from cliniko_referral_sources
    left join cliniko_referral_source_types
        on cliniko_referral_sources.account = cliniko_referral_source_types.account
        and cliniko_referral_sources.referral_source_type_id = cliniko_referral_source_types.referral_source_type_id

),

-- FHIR: refnet's referral-source extension on Patient (flattened at landing).
fhir as (

    select
        source_kind,
        account as source_name,
        account,
        patient_id,
        referral_source_type_id,
        referral_source_type_name,
        referral_source_referrer_type as referrer_type,
        case when lower(referral_source_referrer_type) = 'contact'
            then referral_source_referrer_id end as referrer_contact_id,
        referral_source_subcategory as subcategory,
        coalesce(referral_source_recorded_at, updated_at) as updated_at,
        false as is_deleted,
        extracted_at
    from {{ ref('stg_fhir__patients') }}
    where has_referral_source

),

final as (

    select * from cliniko
    union all
    select * from fhir

)

select * from final
