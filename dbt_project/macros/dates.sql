{#- The instant the funnel is evaluated at: the end of the `as_of` date (UTC), i.e. everything
    that happened on or before `as_of` is visible. `as_of` null -> current_date. -#}
{% macro as_of_at() -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of -%}
        cast(cast('{{ as_of }}' as date) + interval '1 day' as timestamp with time zone)
    {%- else -%}
        cast(current_date + interval '1 day' as timestamp with time zone)
    {%- endif -%}
{%- endmacro %}

{#- Wall-clock local timestamp (TIMESTAMP, no zone) of a TIMESTAMPTZ in an IANA time zone that may
    differ per row. DST-aware (ICU). -#}
{% macro to_local_timestamp(column, time_zone) -%}
    {{ return(adapter.dispatch('to_local_timestamp', 'refnet')(column, time_zone)) }}
{%- endmacro %}

{% macro default__to_local_timestamp(column, time_zone) -%}
    timezone({{ time_zone }}, {{ column }})
{%- endmacro %}

{#- The instant (TIMESTAMPTZ) a wall-clock local TIMESTAMP names in an IANA time zone that may
    differ per row: the inverse of to_local_timestamp. DST-aware (ICU). -#}
{% macro from_local_timestamp(column, time_zone) -%}
    {{ return(adapter.dispatch('from_local_timestamp', 'refnet')(column, time_zone)) }}
{%- endmacro %}

{% macro default__from_local_timestamp(column, time_zone) -%}
    timezone({{ time_zone }}, {{ column }})
{%- endmacro %}

{#- First day of the local month (DATE) of a TIMESTAMPTZ in a per-row time zone. -#}
{% macro local_month(column, time_zone) -%}
    cast(date_trunc('month', {{ to_local_timestamp(column, time_zone) }}) as date)
{%- endmacro %}

{#- Elapsed time between two TIMESTAMPTZ, in fractional hours / days (null if either is null). -#}
{% macro hours_between(start_at, end_at) -%}
    round((epoch({{ end_at }}) - epoch({{ start_at }})) / 3600.0, 2)
{%- endmacro %}

{% macro days_between(start_at, end_at) -%}
    round((epoch({{ end_at }}) - epoch({{ start_at }})) / 86400.0, 2)
{%- endmacro %}

{#- The `as_of` date itself (DATE): the last day whose events are visible. -#}
{% macro as_of_date() -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of -%}
        cast('{{ as_of }}' as date)
    {%- else -%}
        current_date
    {%- endif -%}
{%- endmacro %}

{#- First day of the quarter (DATE) of a DATE or TIMESTAMP. -#}
{% macro quarter_start(column) -%}
    cast(date_trunc('quarter', {{ column }}) as date)
{%- endmacro %}
