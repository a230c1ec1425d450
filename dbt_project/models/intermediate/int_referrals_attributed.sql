-- One row per referral: every attribution signal's partner, and the primary partner chosen by
-- DESIGN.md's precedence (first rule with a partner wins):
--   1 referral_record  the patient case names a contact
--   2 booking_code     a partner-specific online-booking code (no Cliniko signal carries one
--                      yet: the slot is kept, always null, so the precedence stays stable)
--   3 referral_source  the patient's structured referral source (contact / patient / custom type),
--                      on the referral it was recorded for (int_referral_sources_resolved)
--   4 intake_answer    the intake "how did you hear about us" answer matched to a registry
--                      partner's name or alias (exact after normalising, or Jaro-Winkler
--                      similarity >= var fuzzy_threshold)
--   5 unknown
with

referrals as (

    select
        referral_id,
        source_kind,
        account,
        patient_case_id,
        contact_id,
        heard_about_answer
    from {{ ref('int_referrals_journey') }}

),

referral_sources_resolved as (

    select
        account,
        patient_case_id,
        signal_kind,
        partner_id
    from {{ ref('int_referral_sources_resolved') }}
    where partner_id is not null
        and patient_case_id is not null

),

registry_partners as (

    select
        partner_id,
        partner_name,
        aliases
    from {{ ref('stg_registry__partners') }}

),

contact_links as (

    select
        partner_id,
        account,
        contact_id
    from {{ ref('stg_registry__partner_links') }}
    where link_type = 'contact'

),

-- Rule 1: the case's contact, through the registry if linked, else the PMS contact partner.
contact_link_matches as (

    select
        account,
        contact_id,
        partner_id,
        row_number() over (partition by account, contact_id order by partner_id) as link_rank
    from contact_links

),

referral_record_signals as (

    select
        referrals.referral_id,
        coalesce(
            contact_link_matches.partner_id,
            {{ pms_partner_id('referrals.source_kind', 'referrals.account', 'contact', 'referrals.contact_id') }}
        ) as partner_id
    from referrals
    left join contact_link_matches
        on referrals.account = contact_link_matches.account
        and referrals.contact_id = contact_link_matches.contact_id
        and contact_link_matches.link_rank = 1
    where referrals.contact_id is not null

),

-- Rule 4: names and aliases of registry partners, normalised. unnest() is DuckDB / Postgres.
match_candidates as (

    select
        partner_id,
        {{ normalise_name('partner_name') }} as candidate_name
    from registry_partners

    union

    select
        partner_id,
        {{ normalise_name('alias') }} as candidate_name
    from (
        select partner_id, unnest(aliases) as alias
        from registry_partners
    ) as partner_aliases

),

answers as (

    select
        referral_id,
        heard_about_answer,
        {{ normalise_name('heard_about_answer') }} as answer_normalised
    from referrals
    where heard_about_answer is not null

),

answer_scores as (

    select
        answers.referral_id,
        match_candidates.partner_id,
        answers.answer_normalised = match_candidates.candidate_name as is_exact_match,
        case
            when answers.answer_normalised = match_candidates.candidate_name then 1.0
            else {{ name_similarity('answers.answer_normalised', 'match_candidates.candidate_name') }}
        end as similarity
    from answers
    inner join match_candidates
        on match_candidates.candidate_name is not null
    where answers.answer_normalised is not null

),

best_answer_scores as (

    select
        *,
        row_number() over (
            partition by referral_id
            order by is_exact_match desc, similarity desc, partner_id
        ) as score_rank
    from answer_scores

),

intake_answer_signals as (

    select
        answers.referral_id,
        answers.answer_normalised,
        best_answer_scores.partner_id as best_candidate_partner_id,
        round(best_answer_scores.similarity, 4) as best_candidate_similarity,
        coalesce(best_answer_scores.is_exact_match, false) as is_exact_match,
        case
            when best_answer_scores.is_exact_match
                or best_answer_scores.similarity >= {{ var('fuzzy_threshold') }}
                then best_answer_scores.partner_id
        end as partner_id
    from answers
    left join best_answer_scores
        on answers.referral_id = best_answer_scores.referral_id
        and best_answer_scores.score_rank = 1

),

signals as (

    select
        referrals.referral_id,
        referrals.source_kind,
        referrals.account,
        referrals.heard_about_answer,
        referral_record_signals.partner_id as referral_record_partner_id,
        -- Rule 2 slot: no booking-code signal in Cliniko data yet.
        cast(null as varchar) as booking_code_partner_id,
        referral_sources_resolved.partner_id as referral_source_partner_id,
        referral_sources_resolved.signal_kind as referral_source_signal_kind,
        intake_answer_signals.partner_id as intake_answer_partner_id,
        intake_answer_signals.answer_normalised as heard_about_answer_normalised,
        intake_answer_signals.best_candidate_partner_id as intake_answer_best_candidate_partner_id,
        intake_answer_signals.best_candidate_similarity as intake_answer_similarity,
        coalesce(intake_answer_signals.is_exact_match, false) as is_intake_answer_exact_match
    from referrals
    left join referral_record_signals
        on referrals.referral_id = referral_record_signals.referral_id
    left join referral_sources_resolved
        on referrals.account = referral_sources_resolved.account
        and referrals.patient_case_id = referral_sources_resolved.patient_case_id
    left join intake_answer_signals
        on referrals.referral_id = intake_answer_signals.referral_id

),

attributed as (

    select
        *,
        case
            when referral_record_partner_id is not null then 'referral_record'
            when booking_code_partner_id is not null then 'booking_code'
            when referral_source_partner_id is not null then 'referral_source'
            when intake_answer_partner_id is not null then 'intake_answer'
            else 'unknown'
        end as attribution_method
    from signals

),

final as (

    select
        referral_id,
        source_kind,
        account,
        case attribution_method
            when 'referral_record' then referral_record_partner_id
            when 'booking_code' then booking_code_partner_id
            when 'referral_source' then referral_source_partner_id
            when 'intake_answer' then intake_answer_partner_id
            else 'unknown'
        end as partner_id,
        attribution_method,
        case
            when attribution_method in ('referral_record', 'booking_code') then 'high'
            when attribution_method = 'referral_source' then 'medium'
            when attribution_method = 'intake_answer' and is_intake_answer_exact_match then 'medium'
            when attribution_method = 'intake_answer' then 'low'
            else 'none'
        end as attribution_confidence,
        referral_record_partner_id,
        booking_code_partner_id,
        referral_source_partner_id,
        referral_source_signal_kind,
        intake_answer_partner_id,
        heard_about_answer,
        heard_about_answer_normalised,
        intake_answer_best_candidate_partner_id,
        intake_answer_similarity,
        is_intake_answer_exact_match,
        cast(
            (case when referral_record_partner_id is not null then 1 else 0 end)
            + (case when booking_code_partner_id is not null then 1 else 0 end)
            + (case when referral_source_partner_id is not null then 1 else 0 end)
            + (case when intake_answer_partner_id is not null then 1 else 0 end)
            as integer
        ) as signals,
        -- Two signals naming different partners: worth a review.
        (
            select count(distinct signal_partner_id)
            from (
                values
                    (referral_record_partner_id),
                    (booking_code_partner_id),
                    (referral_source_partner_id),
                    (intake_answer_partner_id)
            ) as signal_partners (signal_partner_id)
        ) > 1 as has_conflicting_signals
    from attributed

)

select * from final
