-- One row per intake form of every source, with the answer to the clinic's "how did you hear
-- about us" question (docs/contracts.md "Conformed layer"). Cliniko: patient forms.
with

cliniko as (

    select
        source_kind,
        account as source_name,
        account,
        patient_form_id,
        patient_id,
        business_id,
        heard_about_answer,
        sent_at,
        completed_at,
        is_deleted,
        extracted_at
    from {{ ref('stg_cliniko__patient_forms') }}

),

fhir_tasks as (

    select
        account,
        questionnaire_response_id,
        min(authored_at) as sent_at,
        min(location_id) as location_id
    from {{ ref('stg_fhir__tasks') }}
    where questionnaire_response_id is not null
        and not is_deleted
    group by account, questionnaire_response_id

),

-- FHIR: QuestionnaireResponses. Sent when the Task that asked for it was authored, else when
-- the response was authored; completed when its status is completed / amended.
fhir as (

    select
        responses.source_kind,
        responses.account as source_name,
        responses.account,
        responses.questionnaire_response_id as patient_form_id,
        responses.patient_id,
        fhir_tasks.location_id as business_id,
        responses.heard_about_answer,
        coalesce(fhir_tasks.sent_at, responses.authored_at, responses.updated_at) as sent_at,
        case when responses.is_completed then coalesce(responses.authored_at, responses.updated_at) end
            as completed_at,
        responses.is_deleted,
        responses.extracted_at
    from {{ ref('stg_fhir__questionnaire_responses') }} as responses
    left join fhir_tasks
        on responses.account = fhir_tasks.account
        and responses.questionnaire_response_id = fhir_tasks.questionnaire_response_id

),

final as (

    select * from cliniko
    union all
    select * from fhir

)

select * from final
