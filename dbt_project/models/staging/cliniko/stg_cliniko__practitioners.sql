with

source as (

    {{ ranked_versions(source('cliniko', 'practitioners')) }}

),

final as (

    select
        cast(coalesce({{ json_text('record', 'id') }}, id) as varchar) as practitioner_id,
        cast(coalesce(
            {{ json_text('record', 'display_name') }},
            {{ json_text('record', 'label') }}
        ) as varchar) as practitioner_name,
        cast({{ json_text('record', 'designation') }} as varchar) as designation,
        cast({{ json_text('record', 'active') }} as boolean) as is_active,
        cast({{ json_text('record', 'show_in_online_bookings') }} as boolean) as is_shown_in_online_bookings,
        cast({{ json_link_id('record', 'user') }} as varchar) as user_id,
        cast({{ json_link_id('record', 'default_appointment_type') }} as varchar) as default_appointment_type_id,
        {{ cliniko_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
