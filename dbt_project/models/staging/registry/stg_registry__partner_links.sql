with

source as (

    select * from {{ source('registry', 'partner_links') }}

),

final as (

    select
        cast(nullif(trim(partner_id), '') as varchar) as partner_id,
        -- `source` is the Cliniko account name the link applies to.
        cast(nullif(trim(source), '') as varchar) as account,
        cast(lower(nullif(trim(link_type), '')) as varchar) as link_type,
        cast(nullif(trim(cast(cliniko_contact_id as varchar)), '') as varchar) as cliniko_contact_id,
        cast(nullif(trim(fhir_reference), '') as varchar) as fhir_reference,
        -- The referrer's id within its source (conformed_referrers.contact_id), whatever the kind.
        cast(coalesce(
            nullif(trim(cast(cliniko_contact_id as varchar)), ''),
            nullif(trim(fhir_reference), '')
        ) as varchar) as contact_id,
        cast(nullif(trim(referral_source_type), '') as varchar) as referral_source_type_name,
        cast(nullif(trim(subcategory), '') as varchar) as subcategory,
        cast(nullif(trim(referrer_type), '') as varchar) as referrer_type
    from source

)

select * from final
