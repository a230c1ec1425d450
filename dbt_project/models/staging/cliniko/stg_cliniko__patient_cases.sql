-- A patient case is a referral (an episode of care). `created_at` is when it was received; a
-- `contact` link names the referrer.
{{ incremental_staging('patient_case_id') }}
{%- set rec = json_record('record') %}
with

source as (

    {{ ranked_versions(source('cliniko', 'patient_cases')) }}

),

final as (

    select
        cast(coalesce({{ json_text(rec, 'id') }}, id) as varchar) as patient_case_id,
        cast({{ json_link_id(rec, 'patient') }} as varchar) as patient_id,
        cast({{ json_link_id(rec, 'contact') }} as varchar) as contact_id,
        cast({{ json_text(rec, 'referral') }} as boolean) as is_referral,
        cast({{ json_text(rec, 'referral_type') }} as varchar) as referral_type,
        cast({{ json_text(rec, 'issue_date') }} as date) as issue_date,
        cast({{ json_text(rec, 'expiry_date') }} as date) as expiry_date,
        cast({{ json_text(rec, 'max_sessions') }} as integer) as max_sessions,
        {{ json_timestamp(rec, 'closed_at') }} as closed_at,
        coalesce({{ json_text(rec, 'closed_at') }} is not null
            or cast({{ json_text(rec, 'closed') }} as boolean), false) as is_closed,
        {{ cliniko_record_columns(rec) }}
    from {{ json_parsed(rec, 'source') }}
    where version_rank = 1

)

select * from final
