-- One row per (account, clinic): the clinics a CSV source's appointments name (its own one when
-- the export names none), with the time zone of the source's config.
with

source as (

    {{ ranked_versions(source('csv', 'clinics')) }}

),

final as (

    select
        cast(id as varchar) as clinic_id,
        cast({{ json_text('record', 'clinic_name') }} as varchar) as clinic_name,
        cast({{ json_text('record', 'time_zone') }} as varchar) as time_zone,
        cast(source_kind as varchar) as source_kind,
        cast(account as varchar) as account,
        cast(extracted_at as timestamp with time zone) as extracted_at,
        cast(run_id as varchar) as run_id
    from source
    where version_rank = 1

)

select * from final
