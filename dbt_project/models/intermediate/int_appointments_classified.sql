-- One row per appointment (deleted ones too, with status `deleted`, so a deletion reaches the
-- models downstream) with its canonical status, its referral, its local start date in the
-- clinic's time zone, and whether it is its referral's first appointment.
--
-- Incremental (delete+insert on the never-null `appointment_key`): a run recomputes every
-- appointment of the patients touched since the last build (an appointment, invoice or case of
-- theirs landed later, or one of their appointments is still `booked` / `arrived`, whose status
-- moves with time), all of an account when its businesses changed, and everything when `as_of`
-- moved back or `default_time_zone` changed. Status, first appointment and sequence depend only
-- on the patient's own records, so recomputing per patient gives what a full build gives.
{{ config(
    materialized='incremental',
    unique_key='appointment_key',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns'
) }}
{%- set rules = "default_time_zone=" ~ var("default_time_zone") %}

with

{% if is_incremental() -%}
-- What the last build saw: everything landed after `watermark` is new to this build.
previous_build as (

    {{ previous_build(as_of_at(), rules) }}
),

touched_patients as (

    select account, patient_id
    from {{ ref('conformed_appointments') }}
    where extracted_at > (select watermark from previous_build)

    union

    select account, patient_id
    from {{ ref('conformed_invoices') }}
    where extracted_at > (select watermark from previous_build)

    union

    select account, patient_id
    from {{ ref('conformed_referrals') }}
    where extracted_at > (select watermark from previous_build)

    union

    -- Statuses that change with time alone (a booking becomes past, an arrival ends).
    select account, patient_id
    from {{ this }}
    where status in ('booked', 'arrived')

    union

    select account, patient_id
    from {{ ref('conformed_appointments') }}
    where account in (
        select account
        from {{ ref('conformed_clinics') }}
        where extracted_at > (select watermark from previous_build)
    )

),

{% endif -%}
appointments as (

    select
        source_kind,
        account,
        appointment_id,
        patient_id,
        patient_case_id,
        business_id,
        practitioner_id,
        appointment_type_id,
        created_at,
        starts_at,
        ends_at,
        cancelled_at,
        cancellation_reason,
        is_cancelled,
        is_did_not_arrive,
        has_patient_arrived,
        -- Deleted appointments were never real bookings (entered in error): status `deleted`,
        -- never counted (conformed_appointments folds Cliniko's archiving in). Cancelled ones
        -- are real and kept.
        is_deleted,
        extracted_at
    from {{ ref('conformed_appointments') }} as source_appointments
    where appointment_id is not null
    {%- if is_incremental() %}
        {{- of_touched_patients('source_appointments') }}
    {%- endif %}

),

all_invoices as (

    select
        account,
        patient_id,
        appointment_id,
        total_amount,
        is_deleted,
        is_cancelled,
        extracted_at
    from {{ ref('conformed_invoices') }}

),

invoices as (

    select
        account,
        appointment_id,
        total_amount
    from all_invoices
    where not is_deleted
        and not is_cancelled
        and appointment_id is not null

),

invoice_changes as (

    select
        account,
        appointment_id,
        max(extracted_at) as extracted_at
    from all_invoices
    where appointment_id is not null
    group by account, appointment_id

),

businesses as (

    select
        account,
        business_id,
        time_zone_identifier,
        extracted_at
    from {{ ref('conformed_clinics') }}

),

all_patient_cases as (

    select
        account,
        patient_case_id,
        patient_id,
        created_at as received_at,
        is_deleted,
        extracted_at
    from {{ ref('conformed_referrals') }}

),

patient_cases as (

    select * from all_patient_cases
    where not is_deleted

),

invoiced as (

    select
        account,
        appointment_id,
        sum(total_amount) as revenue
    from invoices
    group by account, appointment_id

),

-- An appointment without a patient_case link belongs to the patient's latest case received on
-- or before the appointment was booked (if any).
inferred_cases as (

    select
        appointments.account,
        appointments.appointment_id,
        patient_cases.patient_case_id,
        row_number() over (
            partition by appointments.account, appointments.appointment_id
            order by patient_cases.received_at desc, patient_cases.patient_case_id desc
        ) as case_rank
    from appointments
    inner join patient_cases
        on appointments.account = patient_cases.account
        and appointments.patient_id = patient_cases.patient_id
        and patient_cases.received_at <= appointments.created_at
    where appointments.patient_case_id is null
        and not appointments.is_deleted

),

joined as (

    select
        appointments.*,
        coalesce(appointments.patient_case_id, inferred_cases.patient_case_id) as referral_case_id,
        appointments.patient_case_id is null
            and inferred_cases.patient_case_id is not null as is_patient_case_inferred,
        invoiced.appointment_id is not null as has_invoice,
        coalesce(invoiced.revenue, 0) as revenue,
        coalesce(businesses.time_zone_identifier, '{{ var("default_time_zone") }}') as time_zone,
        -- The latest landing this row was computed from (the incremental watermark).
        greatest(appointments.extracted_at, invoice_changes.extracted_at) as last_extracted_at
    from appointments
    left join inferred_cases
        on appointments.account = inferred_cases.account
        and appointments.appointment_id = inferred_cases.appointment_id
        and inferred_cases.case_rank = 1
    left join invoiced
        on appointments.account = invoiced.account
        and appointments.appointment_id = invoiced.appointment_id
    left join invoice_changes
        on appointments.account = invoice_changes.account
        and appointments.appointment_id = invoice_changes.appointment_id
    left join businesses
        on appointments.account = businesses.account
        and appointments.business_id = businesses.business_id

),

-- docs/contracts.md: cancelled_at set -> cancelled; did_not_arrive -> DNA; patient_arrived ->
-- attended; else booked (future) / unmarked (past: attended when invoiced, else booked).
classified as (

    select
        *,
        case
            when is_deleted then 'deleted'
            when is_cancelled then 'cancelled'
            when is_did_not_arrive then 'noshow'
            when has_patient_arrived and ends_at <= {{ as_of_at() }} then 'fulfilled'
            when has_patient_arrived then 'arrived'
            when starts_at <= {{ as_of_at() }} and has_invoice then 'fulfilled'
            else 'booked'
        end as status
    from joined

),

sequenced as (

    select
        *,
        -- The referral's first appointment is its earliest non-cancelled one (so a cancelled
        -- and rebooked first appointment counts once); if all were cancelled, the earliest.
        row_number() over (
            partition by account, referral_case_id, status = 'deleted'
            order by
                case when status = 'cancelled' then 1 else 0 end,
                starts_at,
                created_at,
                appointment_id
        ) as first_rank,
        row_number() over (
            partition by account, referral_case_id, status = 'deleted'
            order by starts_at, created_at, appointment_id
        ) as appointment_sequence
    from classified

),

final as (

    select
        -- Never null (appointment_id is filtered above): the incremental unique key.
        source_kind || ':' || account || ':' || appointment_id as appointment_key,
        source_kind,
        account,
        appointment_id,
        {{ referral_id('source_kind', 'account', 'referral_case_id') }} as referral_id,
        referral_case_id as patient_case_id,
        is_patient_case_inferred,
        patient_id,
        business_id,
        practitioner_id,
        appointment_type_id,
        created_at as booked_at,
        starts_at,
        ends_at,
        cancelled_at,
        cancellation_reason,
        status,
        status in ('arrived', 'fulfilled') as is_attended,
        status = 'cancelled' as is_cancelled,
        status = 'noshow' as is_no_show,
        status = 'booked' as is_pending,
        has_invoice,
        cast(revenue as decimal(18, 2)) as revenue,
        time_zone,
        cast({{ to_local_timestamp('starts_at', 'time_zone') }} as date) as starts_local_date,
        referral_case_id is not null and status <> 'deleted' and first_rank = 1 as is_first_appointment,
        case when referral_case_id is not null and status <> 'deleted' then appointment_sequence end
            as appointment_sequence,
        last_extracted_at,
        {{ as_of_at() }} as evaluated_at,
        '{{ rules }}' as rules
    from sequenced

)

select * from final
