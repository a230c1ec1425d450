-- FHIR Appointments, every status. Participants give the patient, the (first) practitioner and
-- the location (clinic); `basedOn` the ServiceRequest (referral) it serves.
with

source as (

    {{ ranked_versions(source('fhir', 'Appointment')) }}

),

final as (

    select
        cast('Appointment/' || id as varchar) as appointment_id,
        cast({{ json_text('record', 'status') }} as varchar) as status,
        cast({{ fhir_first_reference_to('record', 'participant[*].actor.reference', 'Patient') }} as varchar) as patient_id,
        cast({{ fhir_first_reference_to('record', 'participant[*].actor.reference', 'Practitioner') }} as varchar) as practitioner_id,
        cast({{ fhir_first_reference_to('record', 'participant[*].actor.reference', 'Location') }} as varchar) as location_id,
        cast({{ fhir_first_reference_to('record', 'basedOn[*].reference', 'ServiceRequest') }} as varchar) as service_request_id,
        cast(coalesce(
            {{ json_text('record', 'appointmentType.coding[0].code') }},
            {{ json_text('record', 'appointmentType.text') }}
        ) as varchar) as appointment_type_id,
        cast(coalesce(
            {{ json_text('record', 'cancelationReason.text') }},
            {{ json_text('record', 'cancelationReason.coding[0].display') }}
        ) as varchar) as cancellation_reason,
        {{ fhir_timestamp('record', 'created') }} as created_at,
        {{ fhir_timestamp('record', 'start') }} as starts_at,
        coalesce(
            {{ fhir_timestamp('record', 'end') }},
            {{ fhir_timestamp('record', 'start') }}
                + to_minutes(cast({{ json_text('record', 'minutesDuration') }} as integer))
        ) as ends_at,
        {{ fhir_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
