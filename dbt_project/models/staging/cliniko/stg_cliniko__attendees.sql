-- Attendees of group appointments: one patient's place in one class. `arrived` is null until
-- the class is marked; a cancelled place has `cancelled_at`.
{{ incremental_staging('attendee_id') }}
with

source as (

    {{ ranked_versions(source('cliniko', 'attendees')) }}

),

final as (

    select
        cast(coalesce({{ json_text('record', 'id') }}, id) as varchar) as attendee_id,
        cast({{ json_link_id('record', 'booking') }} as varchar) as group_appointment_id,
        cast({{ json_link_id('record', 'patient') }} as varchar) as patient_id,
        cast({{ json_link_id('record', 'patient_case') }} as varchar) as patient_case_id,
        cast({{ json_text('record', 'arrived') }} as boolean) as has_arrived,
        {{ json_timestamp('record', 'cancelled_at') }} as cancelled_at,
        cast({{ json_text('record', 'cancellation_reason') }} as integer) as cancellation_reason_code,
        cast({{ json_text('record', 'cancellation_reason_description') }} as varchar) as cancellation_reason,
        cast({{ json_text('record', 'invoice_status') }} as integer) as invoice_status_code,
        {{ json_text('record', 'cancelled_at') }} is not null as is_cancelled,
        {{ cliniko_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
