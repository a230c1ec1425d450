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
    nullif(trim(json_extract_string({{ column }}, '$.{{ path }}')), '')
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
