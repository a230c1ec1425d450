-- One row per (account, appointment): the newest landing wins, and within a file the last line
-- (an export that repeats an appointment lists its latest state last).
with

source as (

    {{ ranked_versions(source('csv', 'appointments'), tiebreak="cast(json_extract(record, '$.line') as bigint) desc") }}

),

renamed as (

    select
        cast(id as varchar) as appointment_id,
        cast({{ json_text('record', 'patient_id') }} as varchar) as patient_id,
        cast({{ json_text('record', 'patient_key') }} as varchar) as patient_key,
        cast({{ json_text('record', 'referral_id') }} as varchar) as referral_id,
        -- Appointments whose export names no clinic belong to the source's own clinic.
        cast(coalesce({{ json_text('record', 'clinic_id') }}, account) as varchar) as clinic_id,
        cast({{ json_text('record', 'practitioner_id') }} as varchar) as practitioner_id,
        cast({{ json_text('record', 'appointment_type') }} as varchar) as appointment_type,
        cast({{ json_text('record', 'status') }} as varchar) as status,
        {{ json_timestamp('record', 'starts_at') }} as source_starts_at,
        cast({{ json_text('record', 'starts_on') }} as date) as starts_on,
        {{ json_timestamp('record', 'ends_at') }} as source_ends_at,
        {{ json_timestamp('record', 'booked_at') }} as booked_at,
        {{ json_timestamp('record', 'cancelled_at') }} as cancelled_at,
        cast({{ json_text('record', 'cancellation_reason') }} as varchar) as cancellation_reason,
        cast({{ json_text('record', 'time_zone') }} as varchar) as time_zone,
        cast({{ json_text('record', 'source_file') }} as varchar) as source_file,
        cast(json_extract(record, '$.line') as bigint) as source_line,
        cast(nullif(updated_at, '') as timestamp with time zone) as updated_at,
        cast(source_kind as varchar) as source_kind,
        cast(account as varchar) as account,
        cast(extracted_at as timestamp with time zone) as extracted_at,
        cast(run_id as varchar) as run_id
    from source
    where version_rank = 1

),

started as (

    select
        *,
        -- A day without a time starts at midnight of that day in the clinic's zone, so its local
        -- date is the day the export wrote, whatever the zone.
        coalesce(
            source_starts_at,
            {{ from_local_timestamp('cast(starts_on as timestamp)', 'time_zone') }}
        ) as starts_at
    from renamed

),

final as (

    select
        *,
        -- The export says it took place but gives no end: it ended no later than refnet can
        -- tell, its start (so it counts as fulfilled, not as still in progress).
        coalesce(source_ends_at, case when status = 'fulfilled' then starts_at end) as ends_at,
        status = 'cancelled' or cancelled_at is not null as is_cancelled,
        status = 'noshow' as is_did_not_arrive,
        status in ('arrived', 'fulfilled') as has_patient_arrived
    from started

)

select * from final
