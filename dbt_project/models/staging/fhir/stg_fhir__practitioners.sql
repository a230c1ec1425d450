-- FHIR Practitioners (referrers and staff): professional identity kept on purpose, as for
-- Cliniko contacts. Display name: `name.text`, else prefix + given + family of the first name.
with

source as (

    {{ ranked_versions(source('fhir', 'Practitioner')) }}

),

final as (

    select
        cast('Practitioner/' || id as varchar) as practitioner_id,
        cast(coalesce(
            {{ json_text('record', 'name[0].text') }},
            nullif(trim(concat_ws(' ',
                array_to_string(json_extract_string(record, '$.name[0].prefix[*]'), ' '),
                array_to_string(json_extract_string(record, '$.name[0].given[*]'), ' '),
                {{ json_text('record', 'name[0].family') }}
            )), '')
        ) as varchar) as practitioner_name,
        cast(coalesce(
            {{ json_text('record', 'qualification[0].code.text') }},
            {{ json_text('record', 'qualification[0].code.coding[0].display') }}
        ) as varchar) as qualification,
        cast({{ json_text('record', 'active') }} as boolean) as is_active,
        {{ fhir_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
