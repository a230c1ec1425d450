-- One row per clinic and quarter (the referrals' received quarter in the clinic's local time):
-- how much of the network is unknown, how concentrated it is, and how many partners are active.
-- Shares of partners are over the attributed referrals (`unknown` has its own share).
with

referrals as (

    select
        clinic_id,
        clinic_name,
        partner_id,
        received_quarter as quarter
    from {{ ref('referrals') }}

),

totals as (

    select
        clinic_id,
        clinic_name,
        quarter,
        count(*) as referrals,
        count(*) filter (where partner_id = 'unknown') as unknown_referrals
    from referrals
    group by clinic_id, clinic_name, quarter

),

partner_counts as (

    select
        clinic_id,
        quarter,
        partner_id,
        count(*) as partner_referrals
    from referrals
    where partner_id <> 'unknown'
    group by clinic_id, quarter, partner_id

),

ranked as (

    select
        *,
        -- Ties broken by partner id, so "top 5" is always exactly five partners' referrals.
        row_number() over (
            partition by clinic_id, quarter
            order by partner_referrals desc, partner_id
        ) as partner_rank,
        sum(partner_referrals) over (partition by clinic_id, quarter) as attributed_referrals
    from partner_counts

),

concentration as (

    select
        clinic_id,
        quarter,
        count(*) as active_partners,
        max(attributed_referrals) as attributed_referrals,
        sum(case when partner_rank <= 5 then partner_referrals else 0 end) as top_5_referrals,
        -- Herfindahl-Hirschman index of partner shares: 1 = one partner, near 0 = spread out.
        sum(
            (partner_referrals * 1.0 / attributed_referrals)
            * (partner_referrals * 1.0 / attributed_referrals)
        ) as concentration_index
    from ranked
    group by clinic_id, quarter

),

final as (

    select
        totals.clinic_id,
        totals.clinic_name,
        totals.quarter,
        cast(totals.referrals as bigint) as referrals,
        cast(totals.unknown_referrals as bigint) as unknown_referrals,
        cast(round(totals.unknown_referrals * 1.0 / totals.referrals, 4) as double) as unknown_share,
        cast(coalesce(concentration.active_partners, 0) as bigint) as active_partners,
        cast(round(concentration.top_5_referrals * 1.0 / concentration.attributed_referrals, 4) as double)
            as top_5_partner_share,
        cast(round(concentration.concentration_index, 4) as double) as concentration_index
    from totals
    left join concentration
        on totals.clinic_id = concentration.clinic_id
        and totals.quarter = concentration.quarter

)

select * from final
