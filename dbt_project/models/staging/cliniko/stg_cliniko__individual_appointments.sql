{{ incremental_staging('appointment_id') }}
with

source as (

    {{ ranked_versions(source('cliniko', 'individual_appointments')) }}

),

final as (

    select
        cast(coalesce({{ json_text('record', 'id') }}, id) as varchar) as appointment_id,
        cast({{ json_link_id('record', 'patient') }} as varchar) as patient_id,
        cast({{ json_link_id('record', 'patient_case') }} as varchar) as patient_case_id,
        cast({{ json_link_id('record', 'business') }} as varchar) as business_id,
        cast({{ json_link_id('record', 'practitioner') }} as varchar) as practitioner_id,
        cast({{ json_link_id('record', 'appointment_type') }} as varchar) as appointment_type_id,
        {{ json_timestamp('record', 'starts_at') }} as starts_at,
        {{ json_timestamp('record', 'ends_at') }} as ends_at,
        {{ json_timestamp('record', 'cancelled_at') }} as cancelled_at,
        cast({{ json_text('record', 'cancellation_reason') }} as integer) as cancellation_reason_code,
        cast({{ json_text('record', 'cancellation_reason_description') }} as varchar) as cancellation_reason,
        coalesce(cast({{ json_text('record', 'did_not_arrive') }} as boolean), false) as is_did_not_arrive,
        coalesce(cast({{ json_text('record', 'patient_arrived') }} as boolean), false) as has_patient_arrived,
        cast({{ json_text('record', 'invoice_status') }} as integer) as invoice_status_code,
        cast({{ json_text('record', 'treatment_note_status') }} as integer) as treatment_note_status_code,
        {{ json_text('record', 'cancelled_at') }} is not null as is_cancelled,
        {{ cliniko_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
