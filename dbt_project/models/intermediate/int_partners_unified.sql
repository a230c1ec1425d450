-- One row per partner: the clinic's registry partners, plus the PMS partners the registry does
-- not cover (is_registered = false) with a default kind, plus `word-of-mouth` and `unknown`.
with

registry_partners as (

    select
        partner_id,
        partner_name,
        partner_kind,
        tier,
        start_date
    from {{ ref('stg_registry__partners') }}

),

contact_links as (

    select
        account,
        contact_id
    from {{ ref('stg_registry__partner_links') }}
    where link_type = 'contact'

),

contacts as (

    select
        account,
        contact_id,
        contact_name,
        contact_type,
        doctor_type,
        occupation,
        company_name
    from {{ ref('conformed_referrers') }}

),

patient_cases as (

    select
        source_kind,
        account,
        contact_id
    from {{ ref('conformed_referrals') }}
    where not is_deleted
        and contact_id is not null

),

referral_sources_resolved as (

    select
        source_kind,
        account,
        signal_kind,
        referrer_contact_id,
        referral_source_type_id,
        referral_source_type_name,
        subcategory,
        registry_partner_id,
        pms_partner_id
    from {{ ref('int_referral_sources_resolved') }}

),

partner_kind_keywords as (

    select
        keyword,
        partner_kind,
        priority
    from {{ ref('partner_kind_keywords') }}

),

-- Contacts named as referrers (by a patient case or a patient's referral source).
referenced_contacts as (

    select distinct source_kind, account, contact_id
    from patient_cases

    union

    select distinct source_kind, account, referrer_contact_id as contact_id
    from referral_sources_resolved
    where signal_kind = 'contact'

),

unregistered_contacts as (

    select
        referenced_contacts.source_kind,
        referenced_contacts.account,
        referenced_contacts.contact_id
    from referenced_contacts
    left join contact_links
        on referenced_contacts.account = contact_links.account
        and referenced_contacts.contact_id = contact_links.contact_id
    where contact_links.contact_id is null

),

-- Default kind of a PMS contact from its occupation / company name (whole-word keywords).
contact_keyword_matches as (

    select
        contacts.account,
        contacts.contact_id,
        partner_kind_keywords.partner_kind,
        row_number() over (
            partition by contacts.account, contacts.contact_id
            order by partner_kind_keywords.priority, length(partner_kind_keywords.keyword) desc
        ) as match_rank
    from contacts
    inner join partner_kind_keywords
        -- DuckDB regexp (RE2) word boundaries.
        on regexp_matches(
            lower(concat_ws(' ', contacts.occupation, contacts.company_name)),
            '\b' || partner_kind_keywords.keyword || '\b'
        )

),

contact_partners as (

    select
        {{ pms_partner_id('unregistered_contacts.source_kind', 'unregistered_contacts.account', 'contact', 'unregistered_contacts.contact_id') }} as partner_id,
        coalesce(contacts.contact_name, 'Cliniko contact ' || unregistered_contacts.contact_id) as partner_name,
        case
            when contacts.doctor_type = 'general_practitioner' then 'gp'
            when contacts.doctor_type = 'specialist' then 'consultant'
            when contact_keyword_matches.partner_kind is not null then contact_keyword_matches.partner_kind
            when contacts.contact_type = 'Doctor' then 'gp'
            else 'other'
        end as partner_kind,
        'cliniko_contact' as partner_origin,
        unregistered_contacts.source_kind,
        unregistered_contacts.account,
        unregistered_contacts.contact_id as cliniko_contact_id,
        cast(null as varchar) as referral_source_type_id,
        cast(null as varchar) as subcategory
    from unregistered_contacts
    left join contacts
        on unregistered_contacts.account = contacts.account
        and unregistered_contacts.contact_id = contacts.contact_id
    left join contact_keyword_matches
        on unregistered_contacts.account = contact_keyword_matches.account
        and unregistered_contacts.contact_id = contact_keyword_matches.contact_id
        and contact_keyword_matches.match_rank = 1

),

-- Custom referral source types (and their subcategories) the registry does not cover.
referral_source_type_partners as (

    select distinct
        pms_partner_id as partner_id,
        coalesce(referral_source_type_name, 'Referral source type ' || referral_source_type_id)
            || coalesce(': ' || subcategory, '') as partner_name,
        'other' as partner_kind,
        'cliniko_referral_source_type' as partner_origin,
        source_kind,
        account,
        cast(null as varchar) as cliniko_contact_id,
        referral_source_type_id,
        lower(subcategory) as subcategory
    from referral_sources_resolved
    where signal_kind = 'referral_source_type'
        and registry_partner_id is null

),

pms_partners as (

    select * from contact_partners
    union all
    select * from referral_source_type_partners

),

builtin_partners as (

    select
        'word-of-mouth' as partner_id,
        'Word of mouth' as partner_name,
        'patient' as partner_kind,
        'word_of_mouth' as partner_origin

    union all

    select
        'unknown' as partner_id,
        'Unknown' as partner_name,
        'unknown' as partner_kind,
        'unknown' as partner_origin

),

unified as (

    select
        partner_id,
        partner_name,
        partner_kind,
        tier,
        start_date,
        true as is_registered,
        'registry' as partner_origin,
        cast(null as varchar) as source_kind,
        cast(null as varchar) as account,
        cast(null as varchar) as cliniko_contact_id,
        cast(null as varchar) as referral_source_type_id,
        cast(null as varchar) as subcategory
    from registry_partners

    union all

    select
        partner_id,
        partner_name,
        partner_kind,
        cast(null as varchar) as tier,
        cast(null as date) as start_date,
        false as is_registered,
        partner_origin,
        source_kind,
        account,
        cliniko_contact_id,
        referral_source_type_id,
        subcategory
    from pms_partners

    union all

    -- The registry may define its own `word-of-mouth` / `unknown`; it wins.
    select
        builtin_partners.partner_id,
        builtin_partners.partner_name,
        builtin_partners.partner_kind,
        cast(null as varchar) as tier,
        cast(null as date) as start_date,
        false as is_registered,
        builtin_partners.partner_origin,
        cast(null as varchar) as source_kind,
        cast(null as varchar) as account,
        cast(null as varchar) as cliniko_contact_id,
        cast(null as varchar) as referral_source_type_id,
        cast(null as varchar) as subcategory
    from builtin_partners
    left join registry_partners
        on builtin_partners.partner_id = registry_partners.partner_id
    where registry_partners.partner_id is null

),

final as (

    select * from unified

)

select * from final
