{#- Normalise a partner name / alias / intake answer for matching: NFC, lower case, accents
    stripped, punctuation to spaces, company suffixes ("ltd", "pty ltd", "limited") dropped,
    whitespace collapsed. Empty -> null. DuckDB-specific (nfc_normalize, strip_accents). -#}
{% macro normalise_name(column) -%}
    {{ return(adapter.dispatch('normalise_name', 'refnet')(column)) }}
{%- endmacro %}

{% macro default__normalise_name(column) -%}
    nullif(
        trim(regexp_replace(
            regexp_replace(
                regexp_replace(
                    strip_accents(lower(nfc_normalize({{ column }}))),
                    '[^a-z0-9]+', ' ', 'g'),
                '\b(pty ltd|ltd|limited)\b', ' ', 'g'),
            '\s+', ' ', 'g')),
        '')
{%- endmacro %}

{#- String similarity in [0, 1] used for fuzzy matching (DuckDB built-in Jaro-Winkler). -#}
{% macro name_similarity(left, right) -%}
    {{ return(adapter.dispatch('name_similarity', 'refnet')(left, right)) }}
{%- endmacro %}

{% macro default__name_similarity(left, right) -%}
    jaro_winkler_similarity({{ left }}, {{ right }})
{%- endmacro %}

{#- Stable id of a partner that exists only in the PMS (not in the clinic's registry). A URL
    slug (`cliniko-<account>-contact-<id>`), because partner ids name the site's pages. -#}
{% macro pms_partner_id(source_kind, account, entity, entity_id) -%}
    trim(regexp_replace(lower(
        {{ source_kind }} || '-' || {{ account }} || '-' || '{{ entity }}' || '-' || {{ entity_id }}
    ), '[^a-z0-9]+', '-', 'g'), '-')
{%- endmacro %}

{#- Text id of a referral, unique across accounts: `<source_kind>:<account>:<patient case id>`. -#}
{% macro referral_id(source_kind, account, patient_case_id) -%}
    case when {{ patient_case_id }} is not null
        then {{ source_kind }} || ':' || {{ account }} || ':' || {{ patient_case_id }} end
{%- endmacro %}

{#- Text id of a clinic, unique across accounts: `<source_kind>:<account>:<business id>`. -#}
{% macro clinic_id(source_kind, account, business_id) -%}
    case when {{ business_id }} is not null
        then {{ source_kind }} || ':' || {{ account }} || ':' || {{ business_id }} end
{%- endmacro %}
