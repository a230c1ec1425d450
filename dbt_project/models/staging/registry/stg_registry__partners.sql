with

source as (

    select * from {{ source('registry', 'partners') }}

),

final as (

    select
        cast(nullif(trim(partner_id), '') as varchar) as partner_id,
        cast(nullif(trim(partner_name), '') as varchar) as partner_name,
        cast(lower(nullif(trim(partner_kind), '')) as varchar) as partner_kind,
        cast(upper(nullif(trim(tier), '')) as varchar) as tier,
        cast(coalesce(aliases, []) as varchar[]) as aliases,
        cast(start_date as date) as start_date
    from source

)

select * from final
