{#- The incremental journey models recompute per patient. `previous_build` reads what the last
    build saw: everything landed after `watermark` is new; `recompute_all` when there was no
    build, `as_of` moved back, or the rules (`rules`, a string of the vars that shape rows)
    changed. -#}
{% macro previous_build(as_of_at_sql, rules) %}
    select
        max(last_extracted_at) as watermark,
        coalesce(
            max(last_extracted_at) is null
            or max(evaluated_at) > {{ as_of_at_sql }}
            or count(*) filter (where rules is distinct from '{{ rules }}') > 0,
            true
        ) as recompute_all
    from {{ this }}
{% endmacro %}

{#- A where-clause tail keeping the rows of `relation` whose patient a `touched_patients` CTE
    names (or all, when the last build says so). -#}
{% macro of_touched_patients(relation) %}
        and (
            (select recompute_all from previous_build)
            or exists (
                select 1
                from touched_patients
                where touched_patients.account = {{ relation }}.account
                    -- NULL-safe: a row without a patient link is still recomputed.
                    and touched_patients.patient_id is not distinct from {{ relation }}.patient_id
            )
        )
{% endmacro %}
