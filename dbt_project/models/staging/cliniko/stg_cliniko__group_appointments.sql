-- Group appointments (classes). Who attended is in `stg_cliniko__attendees`; `patient_ids` is
-- Cliniko's list of the class's patients, as text.
{{ incremental_staging('group_appointment_id') }}
with

source as (

    {{ ranked_versions(source('cliniko', 'group_appointments')) }}

),

final as (

    select
        cast(coalesce({{ json_text('record', 'id') }}, id) as varchar) as group_appointment_id,
        cast({{ json_link_id('record', 'business') }} as varchar) as business_id,
        cast({{ json_link_id('record', 'practitioner') }} as varchar) as practitioner_id,
        cast({{ json_link_id('record', 'appointment_type') }} as varchar) as appointment_type_id,
        {{ json_timestamp('record', 'starts_at') }} as starts_at,
        {{ json_timestamp('record', 'ends_at') }} as ends_at,
        cast({{ json_text('record', 'max_attendees') }} as integer) as max_attendees,
        {{ json_text_list('record', 'patient_ids') }} as patient_ids,
        {{ cliniko_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
