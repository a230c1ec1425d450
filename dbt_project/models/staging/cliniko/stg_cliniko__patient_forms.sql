-- Intake forms. `content` is dropped at landing; `heard_about_answer` is the answer to the
-- configured "how did you hear about us" question. `created_at` is when the form was sent.
{{ incremental_staging('patient_form_id') }}
{%- set rec = json_record('record') %}
with

source as (

    {{ ranked_versions(source('cliniko', 'patient_forms')) }}

),

final as (

    select
        cast(coalesce({{ json_text(rec, 'id') }}, id) as varchar) as patient_form_id,
        cast({{ json_link_id(rec, 'patient') }} as varchar) as patient_id,
        cast({{ json_link_id(rec, 'business') }} as varchar) as business_id,
        cast({{ json_link_id(rec, 'booking') }} as varchar) as booking_id,
        cast({{ json_link_id(rec, 'attendee') }} as varchar) as attendee_id,
        cast({{ json_text(rec, 'name') }} as varchar) as form_name,
        cast({{ json_text(rec, 'heard_about_answer') }} as varchar) as heard_about_answer,
        {{ json_timestamp(rec, 'created_at') }} as sent_at,
        {{ json_timestamp(rec, 'completed_at') }} as completed_at,
        {{ json_text(rec, 'completed_at') }} is not null as is_completed,
        {{ cliniko_record_columns(rec) }}
    from {{ json_parsed(rec, 'source') }}
    where version_rank = 1

)

select * from final
