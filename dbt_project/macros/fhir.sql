{#- Reading landed FHIR resources (flows/fhir.py). DuckDB-specific like macros/json.sql:
    another adapter adds its own `<adapter>__` versions. -#}

{#- The `<ResourceType>/<id>` a Reference points at, whether written relative
    (`Patient/123`), absolute (`https://server/fhir/Patient/123`) or versioned
    (`.../Patient/123/_history/2`); null for contained (`#x`) or display-only references. -#}
{% macro fhir_reference(column, path) -%}
    {{ return(adapter.dispatch('fhir_reference', 'refnet')(column, path)) }}
{%- endmacro %}

{% macro default__fhir_reference(column, path) -%}
    nullif(regexp_extract(
        {{ json_text(column, path) }},
        '([A-Z][A-Za-z]+/[A-Za-z0-9.-]{1,64})(/_history/[^/]+)?$', 1
    ), '')
{%- endmacro %}

{#- The first reference of a list (e.g. `basedOn[*].reference`) to a resource of `resource_type`. -#}
{% macro fhir_first_reference_to(column, list_path, resource_type) -%}
    {{ return(adapter.dispatch('fhir_first_reference_to', 'refnet')(column, list_path, resource_type)) }}
{%- endmacro %}

{% macro default__fhir_first_reference_to(column, list_path, resource_type) -%}
    nullif(regexp_extract(
        list_filter(
            json_extract_string({{ column }}, '$.{{ list_path }}'),
            x -> regexp_matches(x, '(^|/){{ resource_type }}/[A-Za-z0-9.-]{1,64}(/_history/[^/]+)?$')
        )[1],
        '({{ resource_type }}/[A-Za-z0-9.-]{1,64})(/_history/[^/]+)?$', 1
    ), '')
{%- endmacro %}

{#- True when any coding at `list_path` (e.g. `specialty[*].coding[*].code`) equals `code`. -#}
{% macro fhir_has_code(column, list_path, code) -%}
    coalesce(list_contains(json_extract_string({{ column }}, '$.{{ list_path }}'), '{{ code }}'), false)
{%- endmacro %}

{#- A FHIR dateTime / instant as TIMESTAMPTZ. An offset is honoured (converted to UTC); a
    value without a time is midnight UTC; a partial date (`2016` or `2016-09`) is its first day. -#}
{% macro fhir_timestamp(column, path) -%}
    {{ return(adapter.dispatch('fhir_timestamp', 'refnet')(column, path)) }}
{%- endmacro %}

{% macro default__fhir_timestamp(column, path) -%}
    cast(case
        when regexp_matches({{ json_text(column, path) }}, '^\d{4}$') then {{ json_text(column, path) }} || '-01-01'
        when regexp_matches({{ json_text(column, path) }}, '^\d{4}-\d{2}$') then {{ json_text(column, path) }} || '-01'
        else {{ json_text(column, path) }}
    end as timestamp with time zone)
{%- endmacro %}

{#- The lineage columns every FHIR staging model ends with. -#}
{% macro fhir_record_columns() -%}
        coalesce(
            {{ fhir_timestamp('record', 'meta.lastUpdated') }},
            cast(nullif(updated_at, '') as timestamp with time zone)
        ) as updated_at,
        cast(source_kind as varchar) as source_kind,
        cast(account as varchar) as account,
        cast(extracted_at as timestamp with time zone) as extracted_at,
        cast(run_id as varchar) as run_id
{%- endmacro %}
