-- One row per clinic x month of the appointment (clinic local) x status: what an
-- appointments-only site (a CSV-only clinic) shows. Counts only, never a row per appointment.
-- A placeholder row (clinic_id '') if there are none: DuckDB-WASM cannot read an empty file.
with source_rows as (
    select
        a.clinic_id::varchar as clinic_id,
        coalesce(c.clinic_name, a.clinic_id)::varchar as clinic_name,
        a.starts_month::date as month,
        a.status::varchar as status,
        count(*)::bigint as appointments
    from main.appointments as a
    left join main.clinics as c on c.clinic_id = a.clinic_id
    where a.starts_month is not null
    group by all
)
select * from source_rows
union all
select '', '', date '1970-01-01', '', 0::bigint
where not exists (select 1 from source_rows)
