-- The quality gate's results of the last runs (written by flows/gate.py at publishing).
select
    run_id,
    timezone('UTC', checked_at) as checked_at,
    table_name,
    check_name,
    column_name,
    severity,
    passed,
    observed,
    expected,
    rows_affected::bigint as rows_affected,
    -- false: not evaluated (passed is null), e.g. a referral check with no referral source.
    applicable,
    -- What was checked, in plain words (results written before these existed: the names).
    coalesce(area, table_name) as area,
    coalesce(description, check_name) as description
from main.gate_results
