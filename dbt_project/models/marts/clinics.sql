-- One row per clinic: every Cliniko business (archived and deleted ones flagged, since old
-- referrals may still point at them), plus each account's `unassigned` clinic when some
-- referral or appointment could not be placed in a clinic.
with

businesses as (

    select
        source_kind,
        account,
        business_id,
        clinic_name,
        time_zone_identifier,
        country_code,
        is_archived,
        is_deleted
    from {{ ref('conformed_clinics') }}

),

referrals as (

    select
        clinic_id,
        source_kind,
        account,
        time_zone,
        received_at
    from {{ ref('referrals') }}

),

appointments as (

    select
        clinic_id,
        source_kind,
        account
    from {{ ref('appointments') }}

),

registered_clinics as (

    select
        {{ clinic_id('source_kind', 'account', 'business_id') }} as clinic_id,
        source_kind,
        account,
        business_id,
        coalesce(clinic_name, 'Cliniko business ' || business_id) as clinic_name,
        time_zone_identifier as time_zone,
        country_code,
        is_archived,
        is_deleted,
        false as is_unassigned
    from businesses
    where business_id is not null

),

placed_clinic_ids as (

    select clinic_id, source_kind, account from referrals
    union
    select clinic_id, source_kind, account from appointments

),

unassigned_clinics as (

    select
        placed_clinic_ids.clinic_id,
        placed_clinic_ids.source_kind,
        placed_clinic_ids.account,
        cast(null as varchar) as business_id,
        'Unassigned clinic' as clinic_name,
        -- The zone its referrals' local dates used (the account's only zone, else the default).
        coalesce(
            (select min(referrals.time_zone) from referrals
             where referrals.clinic_id = placed_clinic_ids.clinic_id),
            '{{ var("default_time_zone") }}'
        ) as time_zone,
        cast(null as varchar) as country_code,
        false as is_archived,
        false as is_deleted,
        true as is_unassigned
    from placed_clinic_ids
    left join registered_clinics
        on placed_clinic_ids.clinic_id = registered_clinics.clinic_id
    where registered_clinics.clinic_id is null

),

clinics as (

    select * from registered_clinics
    union all
    select * from unassigned_clinics

),

referral_counts as (

    select
        clinic_id,
        count(*) as referrals,
        min(received_at) as first_referral_at,
        max(received_at) as last_referral_at
    from referrals
    group by clinic_id

),

final as (

    select
        clinics.clinic_id,
        clinics.clinic_name,
        clinics.source_kind,
        clinics.account,
        clinics.business_id,
        clinics.time_zone,
        clinics.country_code,
        clinics.is_unassigned,
        clinics.is_archived,
        clinics.is_deleted,
        cast(coalesce(referral_counts.referrals, 0) as bigint) as referrals,
        referral_counts.first_referral_at,
        referral_counts.last_referral_at
    from clinics
    left join referral_counts
        on clinics.clinic_id = referral_counts.clinic_id

)

select * from final
