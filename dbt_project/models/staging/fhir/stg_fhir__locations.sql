-- FHIR Locations: the clinics. `time_zone` was resolved at landing (HL7 timezone extension, else
-- the source's configured zone).
with

source as (

    {{ ranked_versions(source('fhir', 'Location')) }}

),

final as (

    select
        cast('Location/' || id as varchar) as location_id,
        cast({{ json_text('record', 'name') }} as varchar) as location_name,
        cast({{ json_text('record', 'status') }} as varchar) as status,
        cast({{ json_text('record', 'time_zone') }} as varchar) as time_zone_identifier,
        cast(case when length({{ json_text('record', 'country') }}) = 2
            then upper({{ json_text('record', 'country') }}) end as varchar) as country_code,
        cast({{ fhir_reference('record', 'managingOrganization.reference') }} as varchar) as organization_id,
        coalesce({{ json_text('record', 'status') }} = 'inactive', false) as is_archived,
        {{ fhir_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
