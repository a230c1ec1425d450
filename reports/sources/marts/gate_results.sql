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
    rows_affected::bigint as rows_affected
from main.gate_results
