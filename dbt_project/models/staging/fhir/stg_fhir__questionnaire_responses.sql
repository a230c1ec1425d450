-- FHIR QuestionnaireResponses (intake). Only the configured "how did you hear about us" answer
-- is landed; responses without a `questionnaire` element are kept like any other.
with

source as (

    {{ ranked_versions(source('fhir', 'QuestionnaireResponse')) }}

),

final as (

    select
        cast('QuestionnaireResponse/' || id as varchar) as questionnaire_response_id,
        cast({{ json_text('record', 'status') }} as varchar) as status,
        cast({{ json_text('record', 'questionnaire') }} as varchar) as questionnaire,
        cast({{ fhir_reference('record', 'subject.reference') }} as varchar) as patient_id,
        cast({{ json_text('record', 'heard_about_answer') }} as varchar) as heard_about_answer,
        {{ fhir_timestamp('record', 'authored') }} as authored_at,
        coalesce({{ json_text('record', 'status') }} in ('completed', 'amended'), false) as is_completed,
        coalesce({{ json_text('record', 'status') }} = 'entered-in-error', false) as is_deleted,
        {{ fhir_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
