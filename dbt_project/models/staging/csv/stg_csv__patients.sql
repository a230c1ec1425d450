-- One row per (account, patient). A patient export may repeat a patient (the appointment export
-- used as one lists a patient per appointment): the newest landing, then the last line, wins.
with

source as (

    {{ ranked_versions(source('csv', 'patients'), tiebreak="cast(json_extract(record, '$.line') as bigint) desc") }}

),

final as (

    select
        cast(id as varchar) as patient_id,
        cast({{ json_text('record', 'patient_key') }} as varchar) as patient_key,
        cast({{ json_text('record', 'birth_year') }} as integer) as birth_year,
        cast({{ json_text('record', 'postcode_district') }} as varchar) as postcode_district,
        {{ json_timestamp('record', 'created_at') }} as created_at,
        cast(nullif(updated_at, '') as timestamp with time zone) as updated_at,
        cast({{ json_text('record', 'source_file') }} as varchar) as source_file,
        cast(json_extract(record, '$.line') as bigint) as source_line,
        cast(source_kind as varchar) as source_kind,
        cast(account as varchar) as account,
        cast(extracted_at as timestamp with time zone) as extracted_at,
        cast(run_id as varchar) as run_id
    from source
    where version_rank = 1

)

select * from final
