with

source as (

    {{ ranked_versions(source('cliniko', 'referral_source_types')) }}

),

final as (

    select
        cast(coalesce({{ json_text('record', 'id') }}, id) as varchar) as referral_source_type_id,
        cast({{ json_text('record', 'name') }} as varchar) as referral_source_type_name,
        -- `Contact` / `Patient` for the built-in types, null for the clinic's custom types.
        cast({{ json_text('record', 'referrer_type') }} as varchar) as referrer_type,
        {{ json_text_list('record', 'subcategories') }} as subcategories,
        {{ json_text('record', 'referrer_type') }} is null as is_custom,
        {{ cliniko_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
