with

source as (

    {{ ranked_versions(source('fhir', 'Invoice')) }}

),

final as (

    select
        cast('Invoice/' || id as varchar) as invoice_id,
        cast({{ json_text('record', 'status') }} as varchar) as status,
        cast({{ fhir_reference('record', 'subject.reference') }} as varchar) as patient_id,
        cast({{ fhir_reference('record', 'appointment.reference') }} as varchar) as appointment_id,
        cast(coalesce(
            {{ json_text('record', 'totalGross.value') }},
            {{ json_text('record', 'totalNet.value') }}
        ) as decimal(18, 2)) as total_amount,
        cast(coalesce(
            {{ json_text('record', 'totalGross.currency') }},
            {{ json_text('record', 'totalNet.currency') }}
        ) as varchar) as currency,
        {{ fhir_timestamp('record', 'date') }} as invoiced_at,
        coalesce({{ json_text('record', 'status') }} = 'cancelled', false) as is_cancelled,
        coalesce({{ json_text('record', 'status') }} = 'entered-in-error', false) as is_deleted,
        {{ fhir_record_columns() }}
    from source
    where version_rank = 1

)

select * from final
