-- Contacts are referrers (doctors, other professionals, 3rd-party payers). Their professional
-- identity is kept on purpose: partners are named in the report (docs/contracts.md).
{{ incremental_staging('contact_id') }}
with

source as (

    {{ ranked_versions(source('cliniko', 'contacts')) }}

),

final as (

    select
        cast(coalesce({{ json_text('record', 'id') }}, id) as varchar) as contact_id,
        cast({{ json_text('record', 'type') }} as varchar) as contact_type,
        cast({{ json_text('record', 'type_code') }} as integer) as contact_type_code,
        cast({{ json_text('record', 'doctor_type') }} as varchar) as doctor_type,
        cast({{ json_text('record', 'title') }} as varchar) as title,
        cast({{ json_text('record', 'first_name') }} as varchar) as first_name,
        cast({{ json_text('record', 'last_name') }} as varchar) as last_name,
        cast({{ json_text('record', 'preferred_name') }} as varchar) as preferred_name,
        cast({{ json_text('record', 'company_name') }} as varchar) as company_name,
        cast({{ json_text('record', 'occupation') }} as varchar) as occupation,
        cast({{ json_text('record', 'provider_number') }} as varchar) as provider_number,
        -- Display name: the person ("Dr Jane Smith") else the company.
        cast(coalesce(
            nullif(trim(concat_ws(' ',
                {{ json_text('record', 'title') }},
                coalesce({{ json_text('record', 'preferred_name') }}, {{ json_text('record', 'first_name') }}),
                {{ json_text('record', 'last_name') }}
            )), ''),
            {{ json_text('record', 'company_name') }}
        ) as varchar) as contact_name,
        {{ cliniko_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
