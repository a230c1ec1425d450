-- One row per referral (= Cliniko patient case): the funnel stages with their timestamps, the
-- drop-off, the speed measures, the clinic and the clinic-local received month.
--
-- Incremental (delete+insert on the never-null `referral_id`): a run recomputes every referral
-- of the patients touched since the last build (a case, form or appointment of theirs landed
-- later; or one of their referrals is still open: `in_progress`, a pending appointment, or a
-- first appointment whose status moves with time), all of an account when its businesses
-- changed, and everything when `as_of` moved back or a window var changed. Everything here is
-- per patient (plus the account's businesses), so that equals a full build. Deleted cases are
-- removed by the post-hook.
{{ config(
    materialized='incremental',
    unique_key='referral_id',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    post_hook=[
        "delete from {{ this }} where referral_id in (select " ~ referral_id('source_kind', 'account', 'patient_case_id') ~ " from {{ ref('conformed_referrals') }} where is_deleted)"
    ]
) }}
{%- set as_of_at = as_of_at() %}
{%- set rules -%}
contact={{ var("contact_window_days") }};intake={{ var("intake_window_days") }};booking={{ var("booking_window_days") }};continue={{ var("continue_window_days") }};default_time_zone={{ var("default_time_zone") }}
{%- endset %}

with

all_patient_cases as (

    select
        source_kind,
        account,
        patient_case_id,
        patient_id,
        contact_id,
        is_referral,
        created_at as received_at,
        is_deleted,
        extracted_at
    from {{ ref('conformed_referrals') }}
    where patient_case_id is not null

),

all_appointments as (

    select
        account,
        patient_case_id,
        patient_id,
        business_id,
        booked_at,
        starts_at,
        status,
        is_attended,
        is_cancelled,
        is_no_show,
        is_pending,
        is_first_appointment,
        revenue,
        last_extracted_at
    from {{ ref('int_appointments_classified') }}

),

all_patient_forms as (

    select
        account,
        patient_form_id,
        patient_id,
        business_id,
        heard_about_answer,
        sent_at,
        completed_at,
        is_deleted,
        extracted_at
    from {{ ref('conformed_intakes') }}

),

{% if is_incremental() -%}
previous_build as (

    {{ previous_build(as_of_at, rules) }}
),

touched_patients as (

    select account, patient_id
    from all_patient_cases
    where extracted_at > (select watermark from previous_build)

    union

    select account, patient_id
    from all_patient_forms
    where extracted_at > (select watermark from previous_build)

    union

    select account, patient_id
    from all_appointments
    where last_extracted_at > (select watermark from previous_build)
        or status in ('booked', 'arrived')

    union

    -- Open referrals: their drop-off or first-appointment status can change with time alone.
    select account, patient_id
    from {{ this }}
    where drop_off = 'in_progress'
        or pending_appointments > 0
        or first_appointment_status in ('booked', 'arrived')

    union

    select account, patient_id
    from all_patient_cases
    where account in (
        select account
        from {{ ref('conformed_clinics') }}
        where extracted_at > (select watermark from previous_build)
    )

),

{% endif -%}
patient_cases as (

    select * from all_patient_cases
    where not is_deleted
    {%- if is_incremental() %}
        {{- of_touched_patients('all_patient_cases') }}
    {%- endif %}

),

appointments as (

    select * from all_appointments
    where status <> 'deleted'

),

-- The latest landing each referral was computed from (the incremental watermark).
referral_landings as (

    select
        patient_cases.account,
        patient_cases.patient_case_id,
        greatest(
            max(patient_cases.extracted_at),
            max(all_appointments.last_extracted_at),
            max(all_patient_forms.extracted_at)
        ) as last_extracted_at
    from patient_cases
    left join all_appointments
        on patient_cases.account = all_appointments.account
        and patient_cases.patient_id = all_appointments.patient_id
    left join all_patient_forms
        on patient_cases.account = all_patient_forms.account
        and patient_cases.patient_id = all_patient_forms.patient_id
    group by patient_cases.account, patient_cases.patient_case_id

),

-- Last-resort clinic of a referral with no appointment or form: where the patient was last seen.
patient_last_business as (

    select
        account,
        patient_id,
        arg_max(business_id, starts_at) as business_id
    from appointments
    where business_id is not null
    group by account, patient_id

),

patient_forms as (

    select
        account,
        patient_form_id,
        patient_id,
        business_id,
        heard_about_answer,
        sent_at,
        completed_at
    from all_patient_forms
    where not is_deleted

),

businesses as (

    select
        account,
        business_id,
        time_zone_identifier
    from {{ ref('conformed_clinics') }}
    where not is_deleted

),

-- An intake form belongs to the patient's latest case received on or before it was sent.
forms_assigned as (

    select
        patient_forms.*,
        patient_cases.patient_case_id,
        row_number() over (
            partition by patient_forms.account, patient_forms.patient_form_id
            order by patient_cases.received_at desc, patient_cases.patient_case_id desc
        ) as case_rank
    from patient_forms
    inner join patient_cases
        on patient_forms.account = patient_cases.account
        and patient_forms.patient_id = patient_cases.patient_id
        and patient_cases.received_at <= patient_forms.sent_at

),

forms_ranked as (

    select
        *,
        row_number() over (
            partition by account, patient_case_id
            order by sent_at, patient_form_id
        ) as sent_rank,
        -- The answer of the earliest completed form that has one.
        row_number() over (
            partition by account, patient_case_id
            order by
                case when completed_at is not null and heard_about_answer is not null then 0 else 1 end,
                completed_at,
                patient_form_id
        ) as answer_rank
    from forms_assigned
    where case_rank = 1

),

intake as (

    select
        account,
        patient_case_id,
        min(sent_at) as intake_sent_at,
        min(completed_at) as intake_completed_at,
        max(case when sent_rank = 1 then business_id end) as intake_business_id,
        max(case when answer_rank = 1 and completed_at is not null then heard_about_answer end)
            as heard_about_answer
    from forms_ranked
    group by account, patient_case_id

),

appointment_summary as (

    select
        account,
        patient_case_id,
        min(booked_at) as first_booked_at,
        max(case when is_first_appointment then starts_at end) as first_appointment_at,
        max(case when is_first_appointment then status end) as first_appointment_status,
        max(case when is_first_appointment then business_id end) as first_appointment_business_id,
        min(case when is_attended then starts_at end) as first_attended_at,
        count(*) as appointments,
        sum(case when is_attended then 1 else 0 end) as attended_appointments,
        sum(case when is_cancelled then 1 else 0 end) as cancelled_appointments,
        sum(case when is_no_show then 1 else 0 end) as no_show_appointments,
        sum(case when is_pending then 1 else 0 end) as pending_appointments,
        sum(revenue) as revenue
    from appointments
    where patient_case_id is not null
    group by account, patient_case_id

),

-- Fallback clinic and time zone per account: its only business / its only time zone.
account_businesses as (

    select
        account,
        case when count(*) = 1 then min(business_id) end as only_business_id,
        case when count(distinct time_zone_identifier) = 1 then min(time_zone_identifier) end
            as only_time_zone
    from businesses
    group by account

),

stages as (

    select
        patient_cases.source_kind,
        patient_cases.account,
        patient_cases.patient_case_id,
        patient_cases.patient_id,
        patient_cases.contact_id,
        patient_cases.is_referral,
        -- Received: the case's creation, unless the clinic booked or sent the intake form
        -- first (cases are often opened at the first visit); least() skips nulls.
        least(
            patient_cases.received_at,
            appointment_summary.first_booked_at,
            intake.intake_sent_at
        ) as received_at,
        intake.intake_sent_at,
        intake.intake_completed_at,
        intake.heard_about_answer,
        -- Contacted: the earliest of intake form sent and first booking made.
        case
            when intake.intake_sent_at is null then appointment_summary.first_booked_at
            when appointment_summary.first_booked_at is null then intake.intake_sent_at
            when intake.intake_sent_at <= appointment_summary.first_booked_at then intake.intake_sent_at
            else appointment_summary.first_booked_at
        end as contacted_at,
        appointment_summary.first_booked_at,
        appointment_summary.first_appointment_at,
        appointment_summary.first_appointment_status,
        appointment_summary.first_attended_at,
        coalesce(appointment_summary.appointments, 0) as appointments,
        coalesce(appointment_summary.attended_appointments, 0) as attended_appointments,
        coalesce(appointment_summary.cancelled_appointments, 0) as cancelled_appointments,
        coalesce(appointment_summary.no_show_appointments, 0) as no_show_appointments,
        coalesce(appointment_summary.pending_appointments, 0) as pending_appointments,
        coalesce(appointment_summary.revenue, 0) as revenue,
        -- Clinic: business of the first appointment, else of the intake form, else the
        -- account's only business, else where the patient was last seen.
        coalesce(
            appointment_summary.first_appointment_business_id,
            intake.intake_business_id,
            account_businesses.only_business_id,
            patient_last_business.business_id
        ) as business_id,
        account_businesses.only_time_zone as account_time_zone,
        referral_landings.last_extracted_at
    from patient_cases
    left join intake
        on patient_cases.account = intake.account
        and patient_cases.patient_case_id = intake.patient_case_id
    left join appointment_summary
        on patient_cases.account = appointment_summary.account
        and patient_cases.patient_case_id = appointment_summary.patient_case_id
    left join account_businesses
        on patient_cases.account = account_businesses.account
    left join patient_last_business
        on patient_cases.account = patient_last_business.account
        and patient_cases.patient_id = patient_last_business.patient_id
    left join referral_landings
        on patient_cases.account = referral_landings.account
        and patient_cases.patient_case_id = referral_landings.patient_case_id

),

located as (

    select
        stages.*,
        coalesce(
            businesses.time_zone_identifier,
            stages.account_time_zone,
            '{{ var("default_time_zone") }}'
        ) as time_zone
    from stages
    left join businesses
        on stages.account = businesses.account
        and stages.business_id = businesses.business_id

),

-- The drop-off ladder: where the referral stopped, judged on the furthest stage it reached;
-- `in_progress` while the window for the next stage is still open on `as_of`.
dropped_off as (

    select
        *,
        case
            when attended_appointments >= 2 then null
            when attended_appointments = 1 then
                case
                    when pending_appointments > 0
                        or {{ as_of_at }} < first_attended_at + interval '{{ var("continue_window_days") }} days'
                        then 'in_progress'
                    else 'single_visit'
                end
            when first_booked_at is not null then
                case
                    when pending_appointments > 0 then 'in_progress'
                    when no_show_appointments > 0 then 'did_not_attend'
                    else 'cancelled'
                end
            when intake_completed_at is not null then
                case
                    when {{ as_of_at }} < received_at + interval '{{ var("booking_window_days") }} days'
                        then 'in_progress'
                    else 'not_booked'
                end
            when contacted_at is not null then
                case
                    when {{ as_of_at }} < contacted_at + interval '{{ var("intake_window_days") }} days'
                        then 'in_progress'
                    else 'intake_not_completed'
                end
            else
                case
                    when {{ as_of_at }} < received_at + interval '{{ var("contact_window_days") }} days'
                        then 'in_progress'
                    else 'not_contacted'
                end
        end as drop_off
    from located

),

final as (

    select
        {{ referral_id('source_kind', 'account', 'patient_case_id') }} as referral_id,
        source_kind,
        account,
        patient_case_id,
        patient_id,
        contact_id,
        is_referral,
        -- Never null: a referral nobody has booked or sent a form yet is still counted.
        coalesce(
            {{ clinic_id('source_kind', 'account', 'business_id') }},
            source_kind || ':' || account || ':unassigned'
        ) as clinic_id,
        business_id,
        time_zone,
        received_at,
        cast({{ to_local_timestamp('received_at', 'time_zone') }} as date) as received_local_date,
        {{ local_month('received_at', 'time_zone') }} as received_month,
        contacted_at,
        intake_sent_at,
        intake_completed_at,
        heard_about_answer,
        first_booked_at,
        first_appointment_at,
        first_appointment_status,
        first_attended_at,
        cast(appointments as bigint) as appointments,
        cast(attended_appointments as bigint) as attended_appointments,
        cast(cancelled_appointments as bigint) as cancelled_appointments,
        cast(no_show_appointments as bigint) as no_show_appointments,
        cast(pending_appointments as bigint) as pending_appointments,
        first_booked_at is not null as is_booked,
        attended_appointments >= 1 as is_attended,
        attended_appointments >= 2 as is_continued,
        drop_off,
        {{ hours_between('received_at', 'contacted_at') }} as hours_to_contact,
        {{ days_between('received_at', 'first_booked_at') }} as days_to_book,
        {{ days_between('received_at', 'first_attended_at') }} as days_to_first_appointment,
        cast(revenue as decimal(18, 2)) as revenue,
        last_extracted_at,
        {{ as_of_at }} as evaluated_at,
        '{{ rules }}' as rules
    from dropped_off

)

select * from final
