-- One row per partner (all but `unknown`): is the relationship new, active, quiet or dormant,
-- when did it last refer, when was it last visited, and when is the next check-in due.
-- Judged at the end of var `as_of`; windows and thresholds are vars (dbt_project.yml).
{%- set as_of_at = as_of_at() %}
{%- set window = var('health_window_days') %}
{%- set checkin_days = var('checkin_days_by_tier') %}
{%- set checkin_kinds = var('checkin_kinds') %}

with

partners as (

    select
        partner_id,
        partner_name,
        partner_kind,
        tier,
        is_registered,
        start_date
    from {{ ref('int_partners_unified') }}
    where partner_id <> 'unknown'

),

referrals as (

    select
        partner_id,
        received_at
    from {{ ref('referrals') }}
    -- A build judged in the past ignores what arrived after it.
    where received_at < {{ as_of_at }}

),

touchpoints as (

    select
        partner_id,
        touchpoint_date,
        touchpoint_kind
    from {{ ref('stg_registry__touchpoints') }}
    -- Planned (future-dated) touchpoints have not happened yet.
    where touchpoint_date <= {{ as_of_date() }}

),

referral_stats as (

    select
        partner_id,
        min(received_at) as first_referral_at,
        max(received_at) as last_referral_at,
        count(*) filter (
            where received_at >= {{ as_of_at }} - interval '{{ window }} days'
        ) as referrals_last_window,
        count(*) filter (
            where received_at < {{ as_of_at }} - interval '{{ window }} days'
                and received_at >= {{ as_of_at }} - interval '{{ 2 * window }} days'
        ) as referrals_prior_window
    from referrals
    group by partner_id

),

touchpoint_stats as (

    select
        partner_id,
        max(touchpoint_date) as last_touchpoint_date,
        -- arg_max(): DuckDB; ties on the date go to the last kind alphabetically.
        arg_max(touchpoint_kind, touchpoint_date || ' ' || coalesce(touchpoint_kind, '')) as last_touchpoint_kind,
        count(*) as touchpoints
    from touchpoints
    group by partner_id

),

joined as (

    select
        partners.*,
        referral_stats.first_referral_at,
        referral_stats.last_referral_at,
        coalesce(referral_stats.referrals_last_window, 0) as referrals_last_window,
        coalesce(referral_stats.referrals_prior_window, 0) as referrals_prior_window,
        touchpoint_stats.last_touchpoint_date,
        touchpoint_stats.last_touchpoint_kind,
        coalesce(touchpoint_stats.touchpoints, 0) as touchpoints,
        -- The relationship began at the registry's start date, else at the first referral (UTC date).
        coalesce(partners.start_date, cast(referral_stats.first_referral_at as date)) as relationship_start_date,
        -- Channels (not in var `checkin_kinds`) have nobody to visit: no cadence, never due.
        case
            when partners.partner_kind in (
                {%- for kind in checkin_kinds %}'{{ kind }}'{{ ", " if not loop.last }}{% endfor -%}
            ) then
                case partners.tier
                    {%- for tier, days in checkin_days.items() %}
                    when '{{ tier }}' then {{ days }}
                    {%- endfor %}
                end
        end as checkin_interval_days
    from partners
    left join referral_stats
        on partners.partner_id = referral_stats.partner_id
    left join touchpoint_stats
        on partners.partner_id = touchpoint_stats.partner_id

),

-- The status ladder: the first rung that applies wins.
classified as (

    select
        *,
        case
            when relationship_start_date > {{ as_of_date() }} - {{ var('partner_new_days') }}
                then 'new'
            when last_referral_at is null
                or last_referral_at < {{ as_of_at }} - interval '{{ var("partner_dormant_days") }} days'
                then 'dormant'
            when referrals_prior_window >= {{ var('quiet_min_prior_referrals') }}
                and referrals_last_window <= {{ var('quiet_ratio') }} * referrals_prior_window
                then 'quiet'
            else 'active'
        end as status,
        -- date + integer days: DuckDB / Postgres.
        coalesce(last_touchpoint_date, start_date) + checkin_interval_days as checkin_due_date
    from joined

),

final as (

    select
        partner_id,
        partner_name,
        partner_kind,
        tier,
        is_registered,
        status,
        first_referral_at,
        last_referral_at,
        last_touchpoint_date as last_touchpoint_at,
        last_touchpoint_kind,
        cast(touchpoints as bigint) as touchpoints,
        checkin_due_date,
        coalesce(checkin_due_date <= {{ as_of_date() }}, false) as is_checkin_due,
        cast(referrals_last_window as bigint) as referrals_last_90d,
        cast(referrals_prior_window as bigint) as referrals_prior_90d,
        cast(referrals_last_window - referrals_prior_window as bigint) as referral_trend,
        relationship_start_date,
        {{ as_of_date() }} as evaluated_on
    from classified

)

select * from final
