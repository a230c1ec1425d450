-- Communications, metadata only (content, subject and addresses never reach the landing):
-- kind, category, direction and time per patient. The first outbound one after a referral is
-- the "contacted" signal.
{{ incremental_staging('communication_id') }}
with

source as (

    {{ ranked_versions(source('cliniko', 'communications')) }}

),

final as (

    select
        cast(coalesce({{ json_text('record', 'id') }}, id) as varchar) as communication_id,
        cast({{ json_link_id('record', 'patient') }} as varchar) as patient_id,
        cast({{ json_link_id('record', 'booking') }} as varchar) as booking_id,
        cast({{ json_link_id('record', 'attendee') }} as varchar) as attendee_id,
        cast({{ json_text('record', 'type') }} as varchar) as communication_type,
        cast({{ json_text('record', 'type_code') }} as integer) as communication_type_code,
        cast({{ json_text('record', 'category') }} as varchar) as category,
        cast({{ json_text('record', 'category_code') }} as integer) as category_code,
        cast({{ json_text('record', 'direction_code') }} as integer) as direction_code,
        case cast({{ json_text('record', 'direction_code') }} as integer)
            when 1 then 'outbound'
            when 2 then 'inbound'
        end as direction,
        {{ json_timestamp('record', 'created_at') }} as communicated_at,
        {{ cliniko_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
