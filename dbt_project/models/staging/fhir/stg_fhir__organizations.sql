with

source as (

    {{ ranked_versions(source('fhir', 'Organization')) }}

),

final as (

    select
        cast('Organization/' || id as varchar) as organization_id,
        cast({{ json_text('record', 'name') }} as varchar) as organization_name,
        cast(coalesce(
            {{ json_text('record', 'type[0].text') }},
            {{ json_text('record', 'type[0].coding[0].display') }}
        ) as varchar) as organization_type,
        cast({{ json_text('record', 'active') }} as boolean) as is_active,
        {{ fhir_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
