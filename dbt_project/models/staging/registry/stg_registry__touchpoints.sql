with

source as (

    select * from {{ source('registry', 'touchpoints') }}

),

final as (

    select
        cast(nullif(trim(partner_id), '') as varchar) as partner_id,
        cast(touchpoint_date as date) as touchpoint_date,
        cast(lower(nullif(trim(kind), '')) as varchar) as touchpoint_kind,
        cast(nullif(trim(note), '') as varchar) as note
    from source

)

select * from final
