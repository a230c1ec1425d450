-- Patients arrive pseudonymised (flows/land.py): no names, contact details or full date of
-- birth; `patient_key` is the stable HMAC key.
{{ incremental_staging('patient_id') }}
{%- set rec = json_record('record') %}
with

source as (

    {{ ranked_versions(source('cliniko', 'patients')) }}

),

final as (

    select
        cast(coalesce({{ json_text(rec, 'id') }}, id) as varchar) as patient_id,
        cast({{ json_text(rec, 'patient_key') }} as varchar) as patient_key,
        cast({{ json_text(rec, 'birth_year') }} as integer) as birth_year,
        cast({{ json_text(rec, 'postcode_district') }} as varchar) as postcode_district,
        cast({{ json_link_id(rec, 'referring_doctor') }} as varchar) as referring_doctor_contact_id,
        -- Consent to share progress with the referrer (custom field, flows/land.py): absent = no.
        coalesce(cast({{ json_text(rec, 'shares_with_referrer') }} as boolean), false) as shares_with_referrer,
        {{ json_timestamp(rec, 'merged_at') }} as merged_at,
        {{ json_text(rec, 'merged_at') }} is not null as is_merged,
        {{ cliniko_record_columns(rec) }}
    from {{ json_parsed(rec, 'source') }}
    where version_rank = 1

)

select * from final
