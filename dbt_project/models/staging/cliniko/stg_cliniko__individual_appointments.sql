{{ incremental_staging('appointment_id') }}
{%- set rec = json_record('record') %}
with

source as (

    {{ ranked_versions(source('cliniko', 'individual_appointments')) }}

),

final as (

    select
        cast(coalesce({{ json_text(rec, 'id') }}, id) as varchar) as appointment_id,
        cast({{ json_link_id(rec, 'patient') }} as varchar) as patient_id,
        cast({{ json_link_id(rec, 'patient_case') }} as varchar) as patient_case_id,
        cast({{ json_link_id(rec, 'business') }} as varchar) as business_id,
        cast({{ json_link_id(rec, 'practitioner') }} as varchar) as practitioner_id,
        cast({{ json_link_id(rec, 'appointment_type') }} as varchar) as appointment_type_id,
        {{ json_timestamp(rec, 'starts_at') }} as starts_at,
        {{ json_timestamp(rec, 'ends_at') }} as ends_at,
        {{ json_timestamp(rec, 'cancelled_at') }} as cancelled_at,
        cast({{ json_text(rec, 'cancellation_reason') }} as integer) as cancellation_reason_code,
        cast({{ json_text(rec, 'cancellation_reason_description') }} as varchar) as cancellation_reason,
        coalesce(cast({{ json_text(rec, 'did_not_arrive') }} as boolean), false) as is_did_not_arrive,
        coalesce(cast({{ json_text(rec, 'patient_arrived') }} as boolean), false) as has_patient_arrived,
        cast({{ json_text(rec, 'invoice_status') }} as integer) as invoice_status_code,
        cast({{ json_text(rec, 'treatment_note_status') }} as integer) as treatment_note_status_code,
        {{ json_text(rec, 'cancelled_at') }} is not null as is_cancelled,
        {{ cliniko_record_columns(rec) }}
    from {{ json_parsed(rec, 'source') }}
    where version_rank = 1

)

select * from final
