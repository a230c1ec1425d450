{#- Every landed version of every record, ranked newest first per (account, key): latest
    `updated_at` wins, ties go to the latest `extracted_at` (the extractor re-reads an overlap
    window, so the same version can land more than once), then `tiebreak` (e.g. a CSV row's
    line: one file can list an id twice). Staging keeps `version_rank = 1`. -#}
{% macro ranked_versions(source_relation, key_expression='id', tiebreak=none) -%}
    -- Ranked on the narrow columns only; the record is read for the winners alone (a window
    -- over every version's JSON would need the whole landed history in memory).
    select versions.*, 1 as version_rank
    from {{ source_relation }} as versions
    semi join (
        select filename, file_row_number
        from {{ source_relation }}
        {#- A unit test has no `this`: it builds from its fixture alone. #}
        {%- if this is not none and is_incremental() %}
        -- Incremental: only the records with a version landed since this table was built,
        -- each ranked again over all its versions, so a record's row is what a full build
        -- gives. Batches are immutable and a run lands before it builds, so `extracted_at`
        -- orders what this table has seen.
        where (account, {{ key_expression }}) in (
            select account, {{ key_expression }}
            from {{ source_relation }}
            where extracted_at > coalesce(
                (select max(extracted_at) from {{ this }}), '-infinity'::timestamp with time zone
            )
        )
        {%- endif %}
        qualify row_number() over (
            partition by account, {{ key_expression }}
            order by
                cast(nullif(updated_at, '') as timestamp with time zone) desc nulls last,
                extracted_at desc,
                run_id desc{% if tiebreak %},
                {{ tiebreak }}{% endif %}
        ) = 1
    ) as winners
        on versions.filename = winners.filename
        and versions.file_row_number = winners.file_row_number
{%- endmacro %}

{#- The lineage and lifecycle columns every Cliniko staging model ends with. -#}
{% macro cliniko_record_columns(record='record') -%}
        {{ json_timestamp(record, 'created_at') }} as created_at,
        coalesce(
            {{ json_timestamp(record, 'updated_at') }},
            cast(nullif(updated_at, '') as timestamp with time zone)
        ) as updated_at,
        {{ json_timestamp(record, 'archived_at') }} as archived_at,
        {{ json_timestamp(record, 'deleted_at') }} as deleted_at,
        {{ json_text(record, 'archived_at') }} is not null as is_archived,
        {{ json_text(record, 'deleted_at') }} is not null as is_deleted,
        cast(source_kind as varchar) as source_kind,
        cast(account as varchar) as account,
        cast(extracted_at as timestamp with time zone) as extracted_at,
        cast(run_id as varchar) as run_id
{%- endmacro %}

{#- Config of a staging model that merges each night's new versions instead of re-reading the
    whole landed history: its rows are replaced per (account, `key`). `refnet run` rebuilds it
    in full when the project's models change (flows/transform.py). -#}
{% macro incremental_staging(key) -%}
    {{ config(
        materialized='incremental',
        unique_key=['account', key],
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    ) }}
{%- endmacro %}
