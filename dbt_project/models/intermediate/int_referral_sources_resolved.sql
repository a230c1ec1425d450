-- One row per patient with a structured referral source: which kind of signal it is, the
-- partner it resolves to (registry link first, else a PMS-only partner), and the one referral it
-- belongs to. Cliniko keeps one referral source per patient, so for a returning patient it
-- describes an earlier episode: it belongs to the patient's latest case received on or before
-- the source was last updated, else (recorded while the patient was set up, or no timestamp) to
-- the patient's first case. This is how DESIGN.md's "snapshotted when the referral was first
-- seen" is read here.
with

referral_sources as (

    select
        source_kind,
        account,
        patient_id,
        referral_source_type_id,
        referral_source_type_name,
        referrer_type,
        referrer_contact_id,
        subcategory,
        updated_at
    from {{ ref('conformed_referral_sources') }}
    where not is_deleted

),

patient_cases as (

    select
        account,
        patient_id,
        patient_case_id,
        created_at as received_at
    from {{ ref('conformed_referrals') }}
    where not is_deleted

),

partner_links as (

    select
        partner_id,
        account,
        link_type,
        contact_id,
        referral_source_type_name,
        subcategory,
        referrer_type
    from {{ ref('stg_registry__partner_links') }}

),

classified as (

    select
        referral_sources.source_kind,
        referral_sources.account,
        referral_sources.patient_id,
        referral_sources.referral_source_type_id,
        referral_sources.referral_source_type_name,
        referral_sources.referrer_type,
        referral_sources.referrer_contact_id,
        referral_sources.subcategory,
        referral_sources.updated_at,
        case
            when lower(referral_sources.referrer_type) = 'contact'
                and referral_sources.referrer_contact_id is not null then 'contact'
            when lower(referral_sources.referrer_type) = 'patient' then 'patient'
            -- Cliniko's built-in "Other" type without a subcategory names no one: not a signal
            -- (turning it into a partner would hide the unknown share).
            when lower(referral_sources.referral_source_type_name) = 'other'
                and referral_sources.subcategory is null then null
            when referral_sources.referral_source_type_id is not null then 'referral_source_type'
        end as signal_kind
    from referral_sources

),

-- Every registry link that can claim a referral source, ranked most specific first: a named
-- contact, then a type + subcategory, then a whole type, then a referrer type, then (a record
-- with a type but no subcategory) a type + subcategory link, if only one partner has one.
registry_candidates as (

    select
        classified.account,
        classified.patient_id,
        partner_links.partner_id,
        case
            when partner_links.link_type = 'contact' then 1
            when partner_links.link_type = 'referral_source'
                and partner_links.subcategory is not null
                and classified.subcategory is null then 5
            when partner_links.link_type = 'referral_source'
                and partner_links.subcategory is not null then 2
            when partner_links.link_type = 'referral_source' then 3
            else 4
        end as link_rank
    from classified
    inner join partner_links
        on classified.account = partner_links.account
        and (
            (
                partner_links.link_type = 'contact'
                and classified.signal_kind = 'contact'
                and partner_links.contact_id = classified.referrer_contact_id
            )
            or (
                partner_links.link_type = 'referral_source'
                and classified.signal_kind = 'referral_source_type'
                and lower(partner_links.referral_source_type_name) = lower(classified.referral_source_type_name)
                and (
                    partner_links.subcategory is null
                    or lower(partner_links.subcategory) = lower(classified.subcategory)
                    or classified.subcategory is null
                )
            )
            or (
                partner_links.link_type = 'referrer_type'
                and classified.signal_kind in ('contact', 'patient')
                and lower(partner_links.referrer_type) = lower(classified.referrer_type)
            )
        )

),

registry_candidates_counted as (

    select
        *,
        count(distinct partner_id) over (partition by account, patient_id, link_rank)
            as partners_at_rank
    from registry_candidates

),

registry_matches as (

    select
        account,
        patient_id,
        partner_id,
        row_number() over (
            partition by account, patient_id
            order by link_rank, partner_id
        ) as match_rank
    from registry_candidates_counted
    -- A type-only record matches a subcategory link only when that is unambiguous.
    where link_rank < 5 or partners_at_rank = 1

),

-- The referral the source was recorded for (see the header).
case_candidates as (

    select
        referral_sources.account,
        referral_sources.patient_id,
        patient_cases.patient_case_id,
        row_number() over (
            partition by referral_sources.account, referral_sources.patient_id
            order by
                -- latest case received on or before the source's last update ...
                case when patient_cases.received_at <= referral_sources.updated_at then 0 else 1 end,
                case when patient_cases.received_at <= referral_sources.updated_at
                    then patient_cases.received_at end desc,
                -- ... else the patient's first case
                patient_cases.received_at,
                patient_cases.patient_case_id
        ) as case_rank
    from referral_sources
    inner join patient_cases
        on referral_sources.account = patient_cases.account
        and referral_sources.patient_id = patient_cases.patient_id

),

resolved as (

    select
        classified.*,
        case_candidates.patient_case_id,
        registry_matches.partner_id as registry_partner_id,
        case classified.signal_kind
            when 'contact' then
                {{ pms_partner_id('classified.source_kind', 'classified.account', 'contact', 'classified.referrer_contact_id') }}
            when 'patient' then 'word-of-mouth'
            when 'referral_source_type' then
                {{ pms_partner_id('classified.source_kind', 'classified.account', 'referral_source_type',
                    "classified.referral_source_type_id || coalesce('-' || lower(classified.subcategory), '')") }}
        end as pms_partner_id
    from classified
    left join registry_matches
        on classified.account = registry_matches.account
        and classified.patient_id = registry_matches.patient_id
        and registry_matches.match_rank = 1
    left join case_candidates
        on classified.account = case_candidates.account
        and classified.patient_id = case_candidates.patient_id
        and case_candidates.case_rank = 1

),

final as (

    select
        source_kind,
        account,
        patient_id,
        patient_case_id,
        signal_kind,
        referral_source_type_id,
        referral_source_type_name,
        referrer_type,
        referrer_contact_id,
        subcategory,
        registry_partner_id,
        pms_partner_id,
        case when signal_kind is not null
            then coalesce(registry_partner_id, pms_partner_id) end as partner_id
    from resolved

)

select * from final
