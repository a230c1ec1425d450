-- FHIR ServiceRequests: the referrals. `requester` names the referrer: a reference, or (the
-- spec's own physical-therapy example) only a display name, kept as `requester_display`.
with

source as (

    {{ ranked_versions(source('fhir', 'ServiceRequest')) }}

),

final as (

    select
        cast('ServiceRequest/' || id as varchar) as service_request_id,
        cast({{ json_text('record', 'status') }} as varchar) as status,
        cast({{ json_text('record', 'intent') }} as varchar) as intent,
        cast(coalesce(
            {{ json_text('record', 'category[0].text') }},
            {{ json_text('record', 'category[0].coding[0].display') }}
        ) as varchar) as category,
        cast({{ fhir_reference('record', 'subject.reference') }} as varchar) as patient_id,
        cast({{ fhir_reference('record', 'requester.reference') }} as varchar) as requester_id,
        cast({{ json_text('record', 'requester.display') }} as varchar) as requester_display,
        {{ fhir_timestamp('record', 'authoredOn') }} as authored_at,
        coalesce({{ json_text('record', 'status') }} = 'entered-in-error', false) as is_deleted,
        {{ fhir_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
