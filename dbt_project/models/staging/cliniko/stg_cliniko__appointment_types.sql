with

source as (

    {{ ranked_versions(source('cliniko', 'appointment_types')) }}

),

final as (

    select
        cast(coalesce({{ json_text('record', 'id') }}, id) as varchar) as appointment_type_id,
        cast({{ json_text('record', 'name') }} as varchar) as appointment_type_name,
        cast({{ json_text('record', 'category') }} as varchar) as category,
        cast({{ json_text('record', 'duration_in_minutes') }} as integer) as duration_in_minutes,
        cast({{ json_text('record', 'max_attendees') }} as integer) as max_attendees,
        cast({{ json_text('record', 'show_in_online_bookings') }} as boolean) as is_shown_in_online_bookings,
        cast({{ json_text('record', 'telehealth_enabled') }} as boolean) as is_telehealth_enabled,
        {{ cliniko_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
