-- FHIR Patients, pseudonymised at landing (flows/fhir.py): `patient_key`, birth year, postcode
-- district, consent to share with the referrer, and the structured referral source (refnet's
-- referral-source extension) flattened.
with

source as (

    {{ ranked_versions(source('fhir', 'Patient')) }}

),

final as (

    select
        cast('Patient/' || id as varchar) as patient_id,
        cast({{ json_text('record', 'patient_key') }} as varchar) as patient_key,
        cast({{ json_text('record', 'birth_year') }} as integer) as birth_year,
        cast({{ json_text('record', 'postcode_district') }} as varchar) as postcode_district,
        coalesce(cast({{ json_text('record', 'shares_with_referrer') }} as boolean), false) as shares_with_referrer,
        cast({{ json_text('record', 'active') }} as boolean) as is_active,
        {{ json_text('record', 'referral_source') }} is not null as has_referral_source,
        cast({{ json_text('record', 'referral_source.type_id') }} as varchar) as referral_source_type_id,
        cast({{ json_text('record', 'referral_source.type_name') }} as varchar) as referral_source_type_name,
        cast({{ json_text('record', 'referral_source.subcategory') }} as varchar) as referral_source_subcategory,
        cast({{ json_text('record', 'referral_source.referrer_type') }} as varchar) as referral_source_referrer_type,
        cast({{ fhir_reference('record', 'referral_source.referrer.reference') }} as varchar) as referral_source_referrer_id,
        {{ fhir_timestamp('record', 'referral_source.recorded') }} as referral_source_recorded_at,
        {{ fhir_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
