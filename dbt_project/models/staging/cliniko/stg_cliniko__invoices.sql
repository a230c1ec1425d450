-- Invoices. Revenue counts an invoice unless it is deleted (`deleted_at`) or cancelled:
-- Cliniko has no "cancelled" status; an invoice closed without being paid (status 30 "Closed",
-- or `closed_at` set on an invoice that is not status 20 "Paid") is treated as cancelled.
{{ incremental_staging('invoice_id') }}
{%- set rec = json_record('record') %}
with

source as (

    {{ ranked_versions(source('cliniko', 'invoices')) }}

),

parsed as (

    select
        cast(coalesce({{ json_text(rec, 'id') }}, id) as varchar) as invoice_id,
        cast({{ json_link_id(rec, 'patient') }} as varchar) as patient_id,
        cast({{ json_link_id(rec, 'appointment') }} as varchar) as appointment_id,
        cast({{ json_link_id(rec, 'attendee') }} as varchar) as attendee_id,
        cast({{ json_link_id(rec, 'business') }} as varchar) as business_id,
        cast({{ json_link_id(rec, 'practitioner') }} as varchar) as practitioner_id,
        cast({{ json_text(rec, 'number') }} as integer) as invoice_number,
        cast({{ json_text(rec, 'issue_date') }} as date) as issue_date,
        cast({{ json_text(rec, 'status') }} as integer) as status_code,
        cast({{ json_text(rec, 'status_description') }} as varchar) as status,
        cast({{ json_text(rec, 'total_amount') }} as decimal(18, 2)) as total_amount,
        cast({{ json_text(rec, 'net_amount') }} as decimal(18, 2)) as net_amount,
        cast({{ json_text(rec, 'tax_amount') }} as decimal(18, 2)) as tax_amount,
        cast({{ json_text(rec, 'discounted_amount') }} as decimal(18, 2)) as discounted_amount,
        {{ json_timestamp(rec, 'closed_at') }} as closed_at,
        {{ cliniko_record_columns(rec) }}
    from {{ json_parsed(rec, 'source') }}
    where version_rank = 1

),

final as (

    select
        *,
        coalesce(status_code = 30, false)
            or (closed_at is not null and coalesce(status_code, 0) <> 20) as is_cancelled
    from parsed

)

select * from final
