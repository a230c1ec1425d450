{#-
  Reading the landed `record` JSON text. These are the only JSON-aware expressions in the project:
  another warehouse adapter needs its own `<adapter>__` implementations (dispatch), the models
  stay as they are.
-#}

{#- A text field of the record; "" and whitespace-only become null. -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'refnet')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    {%- if column is mapping -%}
    nullif(trim({{ json_field(column, path) }}), '')
    {%- else -%}
    nullif(trim(json_extract_string({{ column }}, '$.{{ path }}')), '')
    {%- endif -%}
{%- endmacro %}

{#- Parsing each record once for all its fields, not once per field (most of a large staging
    build's time): `{% set rec = json_record('record') %}`, pass `rec` instead of the column
    name to the macros above, and read `from {{ json_parsed(rec, 'source') }}`, after every use,
    since it extracts the paths those uses asked for. -#}
{% macro json_record(column) -%}
    {{ return({'column': column, 'paths': [], 'alias': column ~ '_fields'}) }}
{%- endmacro %}

{% macro json_field(rec, path) -%}
    {%- if path not in rec.paths %}{% do rec.paths.append(path) %}{% endif -%}
    {{ rec.alias }}[{{ rec.paths.index(path) + 1 }}]
{%- endmacro %}

{% macro json_parsed(rec, relation) -%}
    {{ return(adapter.dispatch('json_parsed', 'refnet')(rec, relation)) }}
{%- endmacro %}

{% macro default__json_parsed(rec, relation) -%}
    (
        select
            *,
            json_extract_string({{ rec.column }}, [
                {%- for path in rec.paths %}'$.{{ path }}'{% if not loop.last %}, {% endif %}{% endfor -%}
            ]) as {{ rec.alias }}
        from {{ relation }}
    ) as {{ relation }}
{%- endmacro %}

{#- The id of a linked record: the last path segment of `<path>.links.self`
    (e.g. https://api.au1.cliniko.com/v1/businesses/514810976554457178 -> '514810976554457178'). -#}
{% macro json_link_id(column, path) -%}
    {{ return(adapter.dispatch('json_link_id', 'refnet')(column, path)) }}
{%- endmacro %}

{% macro default__json_link_id(column, path) -%}
    nullif(regexp_extract({{ json_text(column, path ~ '.links.self') }}, '/([^/?#]+)/*([?#].*)?$', 1), '')
{%- endmacro %}

{#- The resource name of a linked record (`contacts`, `patients`, ...), the segment before its id. -#}
{% macro json_link_resource(column, path) -%}
    {{ return(adapter.dispatch('json_link_resource', 'refnet')(column, path)) }}
{%- endmacro %}

{% macro default__json_link_resource(column, path) -%}
    nullif(regexp_extract({{ json_text(column, path ~ '.links.self') }}, '/([^/?#]+)/[^/?#]+/*([?#].*)?$', 1), '')
{%- endmacro %}

{#- A JSON array of strings as a list of text (DuckDB: VARCHAR[]). -#}
{% macro json_text_list(column, path) -%}
    {{ return(adapter.dispatch('json_text_list', 'refnet')(column, path)) }}
{%- endmacro %}

{% macro default__json_text_list(column, path) -%}
    cast(json_extract({{ column }}, '$.{{ path }}') as varchar[])
{%- endmacro %}

{#- An ISO 8601 timestamp field as TIMESTAMPTZ. The session time zone is UTC (profiles.yml), so
    a value without an offset is read as UTC. -#}
{% macro json_timestamp(column, path) -%}
    cast({{ json_text(column, path) }} as timestamp with time zone)
{%- endmacro %}
