-- FHIR Tasks. The ones refnet reads: a form sent to a patient (its `output` is the
-- QuestionnaireResponse; `authoredOn` is when it was sent, `location` the clinic).
with

source as (

    {{ ranked_versions(source('fhir', 'Task')) }}

),

final as (

    select
        cast('Task/' || id as varchar) as task_id,
        cast({{ json_text('record', 'status') }} as varchar) as status,
        cast({{ fhir_reference('record', 'for.reference') }} as varchar) as patient_id,
        cast({{ fhir_reference('record', 'focus.reference') }} as varchar) as focus_id,
        cast({{ fhir_first_reference_to('record', 'output[*].valueReference.reference', 'QuestionnaireResponse') }} as varchar) as questionnaire_response_id,
        cast({{ fhir_reference('record', 'location.reference') }} as varchar) as location_id,
        {{ fhir_timestamp('record', 'authoredOn') }} as authored_at,
        coalesce({{ json_text('record', 'status') }} = 'entered-in-error', false) as is_deleted,
        {{ fhir_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
