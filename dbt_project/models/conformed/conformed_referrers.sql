-- One row per referrer the practice-management system knows (a person or organisation that can
-- be named on a referral; docs/contracts.md "Conformed layer"). Cliniko: contacts.
with

cliniko as (

    select
        source_kind,
        account as source_name,
        account,
        contact_id,
        contact_name,
        contact_type,
        doctor_type,
        occupation,
        company_name,
        is_deleted,
        extracted_at
    from {{ ref('stg_cliniko__contacts') }}

),

fhir_practitioners as (

    select
        source_kind,
        account,
        practitioner_id,
        practitioner_name,
        qualification,
        extracted_at
    from {{ ref('stg_fhir__practitioners') }}

),

fhir_organizations as (

    select
        source_kind,
        account,
        organization_id,
        organization_name,
        organization_type,
        extracted_at
    from {{ ref('stg_fhir__organizations') }}

),

fhir_roles as (

    select
        roles.source_kind,
        roles.account,
        roles.practitioner_role_id as contact_id,
        coalesce(
            fhir_practitioners.practitioner_name,
            roles.practitioner_display,
            fhir_organizations.organization_name,
            roles.organization_display
        ) as contact_name,
        case when roles.is_doctor then 'Doctor' end as contact_type,
        -- A doctor in general practice is a GP; a doctor with another specialty a specialist.
        case
            when roles.is_general_practice then 'general_practitioner'
            when roles.is_doctor and roles.has_specialty then 'specialist'
        end as doctor_type,
        coalesce(roles.role_name, fhir_practitioners.qualification) as occupation,
        coalesce(fhir_organizations.organization_name, roles.organization_display) as company_name,
        roles.extracted_at
    from {{ ref('stg_fhir__practitioner_roles') }} as roles
    left join fhir_practitioners
        on roles.account = fhir_practitioners.account
        and roles.practitioner_id = fhir_practitioners.practitioner_id
    left join fhir_organizations
        on roles.account = fhir_organizations.account
        and roles.organization_id = fhir_organizations.organization_id

),

-- Requesters given only by name: a referrer all the same (named `display:<name>`).
fhir_named_requesters as (

    select
        source_kind,
        account,
        'display:' || requester_display as contact_id,
        max(requester_display) as contact_name,
        max(extracted_at) as extracted_at
    from {{ ref('stg_fhir__service_requests') }}
    where requester_id is null
        and requester_display is not null
    group by source_kind, account, requester_display

),

-- FHIR: PractitionerRoles, Practitioners and Organizations (any can be a `requester`).
fhir as (

    select
        source_kind,
        account as source_name,
        account,
        contact_id,
        contact_name,
        contact_type,
        doctor_type,
        occupation,
        company_name,
        false as is_deleted,
        extracted_at
    from fhir_roles

    union all

    select
        source_kind,
        account as source_name,
        account,
        practitioner_id as contact_id,
        practitioner_name as contact_name,
        cast(null as varchar) as contact_type,
        cast(null as varchar) as doctor_type,
        qualification as occupation,
        cast(null as varchar) as company_name,
        false as is_deleted,
        extracted_at
    from fhir_practitioners

    union all

    select
        source_kind,
        account as source_name,
        account,
        organization_id as contact_id,
        organization_name as contact_name,
        cast(null as varchar) as contact_type,
        cast(null as varchar) as doctor_type,
        organization_type as occupation,
        organization_name as company_name,
        false as is_deleted,
        extracted_at
    from fhir_organizations

    union all

    select
        source_kind,
        account as source_name,
        account,
        contact_id,
        contact_name,
        cast(null as varchar) as contact_type,
        cast(null as varchar) as doctor_type,
        cast(null as varchar) as occupation,
        cast(null as varchar) as company_name,
        false as is_deleted,
        extracted_at
    from fhir_named_requesters

),

final as (

    select * from cliniko
    union all
    select * from fhir

)

select * from final
