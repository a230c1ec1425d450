{#- Fails with the rows where `expression` is false (null counts as passing, so write
    `a is null or ...` only when a null should fail). Optional `where` narrows the rows. -#}
{% test expression_is_true(model, expression, column_name=none, where=none) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), true)
{%- if where %}
    and ({{ where }})
{%- endif %}

{% endtest %}
