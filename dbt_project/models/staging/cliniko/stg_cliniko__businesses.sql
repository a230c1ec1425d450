with

source as (

    {{ ranked_versions(source('cliniko', 'businesses')) }}

),

final as (

    select
        cast(coalesce({{ json_text('record', 'id') }}, id) as varchar) as business_id,
        cast({{ json_text('record', 'business_name') }} as varchar) as business_name,
        cast({{ json_text('record', 'display_name') }} as varchar) as display_name,
        cast({{ json_text('record', 'label') }} as varchar) as label,
        cast(coalesce(
            {{ json_text('record', 'display_name') }},
            {{ json_text('record', 'business_name') }},
            {{ json_text('record', 'label') }}
        ) as varchar) as clinic_name,
        cast({{ json_text('record', 'country_code') }} as varchar) as country_code,
        cast({{ json_text('record', 'time_zone') }} as varchar) as time_zone,
        cast({{ json_text('record', 'time_zone_identifier') }} as varchar) as time_zone_identifier,
        cast({{ json_text('record', 'show_in_online_bookings') }} as boolean) as is_shown_in_online_bookings,
        {{ cliniko_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
