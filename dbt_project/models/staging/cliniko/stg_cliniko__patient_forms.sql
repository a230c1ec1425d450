-- Intake forms. `content` is dropped at landing; `heard_about_answer` is the answer to the
-- configured "how did you hear about us" question. `created_at` is when the form was sent.
{{ incremental_staging('patient_form_id') }}
with

source as (

    {{ ranked_versions(source('cliniko', 'patient_forms')) }}

),

final as (

    select
        cast(coalesce({{ json_text('record', 'id') }}, id) as varchar) as patient_form_id,
        cast({{ json_link_id('record', 'patient') }} as varchar) as patient_id,
        cast({{ json_link_id('record', 'business') }} as varchar) as business_id,
        cast({{ json_link_id('record', 'booking') }} as varchar) as booking_id,
        cast({{ json_link_id('record', 'attendee') }} as varchar) as attendee_id,
        cast({{ json_text('record', 'name') }} as varchar) as form_name,
        cast({{ json_text('record', 'heard_about_answer') }} as varchar) as heard_about_answer,
        {{ json_timestamp('record', 'created_at') }} as sent_at,
        {{ json_timestamp('record', 'completed_at') }} as completed_at,
        {{ json_text('record', 'completed_at') }} is not null as is_completed,
        {{ cliniko_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
