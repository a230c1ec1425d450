{#- Fails (one row) when the model has no rows: a table that silently went empty is a bug. -#}
{% test not_empty(model) %}

select count(*) as row_count
from {{ model }}
having count(*) = 0

{% endtest %}
