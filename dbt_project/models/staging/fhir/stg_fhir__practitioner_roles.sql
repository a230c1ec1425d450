-- FHIR PractitionerRoles: a practitioner working for an organisation in a role. `is_doctor`:
-- the role is coded `doctor` (HL7 practitioner-role); `is_general_practice`: a specialty coded
-- SNOMED CT 394814009 "General practice".
with

source as (

    {{ ranked_versions(source('fhir', 'PractitionerRole')) }}

),

final as (

    select
        cast('PractitionerRole/' || id as varchar) as practitioner_role_id,
        cast({{ fhir_reference('record', 'practitioner.reference') }} as varchar) as practitioner_id,
        cast({{ json_text('record', 'practitioner.display') }} as varchar) as practitioner_display,
        cast({{ fhir_reference('record', 'organization.reference') }} as varchar) as organization_id,
        cast({{ json_text('record', 'organization.display') }} as varchar) as organization_display,
        cast(coalesce(
            {{ json_text('record', 'code[0].text') }},
            {{ json_text('record', 'code[0].coding[0].display') }}
        ) as varchar) as role_name,
        cast(coalesce(
            {{ json_text('record', 'specialty[0].text') }},
            {{ json_text('record', 'specialty[0].coding[0].display') }}
        ) as varchar) as specialty_name,
        {{ fhir_has_code('record', 'code[*].coding[*].code', 'doctor') }} as is_doctor,
        {{ fhir_has_code('record', 'specialty[*].coding[*].code', '394814009') }} as is_general_practice,
        json_array_length(coalesce(json_extract(record, '$.specialty'), '[]')) > 0 as has_specialty,
        cast({{ json_text('record', 'active') }} as boolean) as is_active,
        {{ fhir_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
