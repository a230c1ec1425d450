with

partners as (

    select
        partner_id,
        partner_name,
        partner_kind,
        tier,
        is_registered,
        partner_origin,
        start_date
    from {{ ref('int_partners_unified') }}

),

referrals as (

    select
        partner_id,
        received_at
    from {{ ref('referrals') }}

),

referral_counts as (

    select
        partner_id,
        count(*) as referrals,
        min(received_at) as first_referral_at,
        max(received_at) as last_referral_at
    from referrals
    group by partner_id

),

final as (

    select
        partners.partner_id,
        partners.partner_name,
        partners.partner_kind,
        partners.tier,
        partners.is_registered,
        cast(coalesce(referral_counts.referrals, 0) as bigint) as referrals,
        referral_counts.first_referral_at,
        referral_counts.last_referral_at,
        partners.partner_origin,
        partners.start_date
    from partners
    left join referral_counts
        on partners.partner_id = referral_counts.partner_id

)

select * from final
