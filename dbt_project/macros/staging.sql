{#- Every landed version of every record, ranked newest first per (account, key): latest
    `updated_at` wins, ties go to the latest `extracted_at` (the extractor re-reads an overlap
    window, so the same version can land more than once), then `tiebreak` (e.g. a CSV row's
    line: one file can list an id twice). Staging keeps `version_rank = 1`. -#}
{% macro ranked_versions(source_relation, key_expression='id', tiebreak=none) -%}
    select
        *,
        row_number() over (
            partition by account, {{ key_expression }}
            order by
                cast(nullif(updated_at, '') as timestamp with time zone) desc nulls last,
                extracted_at desc,
                run_id desc{% if tiebreak %},
                {{ tiebreak }}{% endif %}
        ) as version_rank
    from {{ source_relation }}
{%- endmacro %}

{#- The lineage and lifecycle columns every Cliniko staging model ends with. -#}
{% macro cliniko_record_columns() -%}
        {{ json_timestamp('record', 'created_at') }} as created_at,
        coalesce(
            {{ json_timestamp('record', 'updated_at') }},
            cast(nullif(updated_at, '') as timestamp with time zone)
        ) as updated_at,
        {{ json_timestamp('record', 'archived_at') }} as archived_at,
        {{ json_timestamp('record', 'deleted_at') }} as deleted_at,
        {{ json_text('record', 'archived_at') }} is not null as is_archived,
        {{ json_text('record', 'deleted_at') }} is not null as is_deleted,
        cast(source_kind as varchar) as source_kind,
        cast(account as varchar) as account,
        cast(extracted_at as timestamp with time zone) as extracted_at,
        cast(run_id as varchar) as run_id
{%- endmacro %}
