-- One row per referral (an episode of care) of every source (docs/contracts.md "Conformed
-- layer"). Cliniko: patient cases, received when created, the referrer in `contact`.
with

cliniko as (

    select
        source_kind,
        account as source_name,
        account,
        patient_case_id,
        patient_id,
        contact_id,
        is_referral,
        created_at,
        is_deleted,
        extracted_at
    from {{ ref('stg_cliniko__patient_cases') }}

),

-- FHIR: ServiceRequests, received when authored (else at its last update, else when refnet first
-- landed it: `authoredOn` is optional in R4); the referrer is `requester` (a reference, else its
-- display name as `display:<name>`).
fhir as (

    select
        source_kind,
        account as source_name,
        account,
        service_request_id as patient_case_id,
        patient_id,
        coalesce(requester_id, 'display:' || requester_display) as contact_id,
        true as is_referral,
        coalesce(authored_at, updated_at, extracted_at) as created_at,
        is_deleted,
        extracted_at
    from {{ ref('stg_fhir__service_requests') }}

),

final as (

    select * from cliniko
    union all
    select * from fhir

)

select * from final
