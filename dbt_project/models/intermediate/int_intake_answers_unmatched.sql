-- Intake "how did you hear about us" answers that matched no registry partner, one row per
-- account and normalised answer, for the clinic to map (add an alias or a partner). Listed even
-- when a higher-precedence rule attributed the referral: the answer is still unmapped.
-- The closest registry partner is suggested only from var `suggestion_min_similarity` up, and
-- never for a non-answer (var `intake_non_answers`: "n/a", "none", "not sure"...).
{%- set non_answers = var('intake_non_answers') %}
with

attributed as (

    select
        referral_id,
        source_kind,
        account,
        attribution_method,
        heard_about_answer,
        heard_about_answer_normalised,
        intake_answer_best_candidate_partner_id,
        intake_answer_similarity
    from {{ ref('int_referrals_attributed') }}
    where heard_about_answer_normalised is not null
        and intake_answer_partner_id is null

),

journey as (

    select
        referral_id,
        received_at
    from {{ ref('int_referrals_journey') }}

),

answers as (

    select
        attributed.*,
        journey.received_at,
        row_number() over (
            partition by attributed.account, attributed.heard_about_answer_normalised
            order by attributed.intake_answer_similarity desc nulls last,
                attributed.intake_answer_best_candidate_partner_id
        ) as suggestion_rank
    from attributed
    inner join journey
        on attributed.referral_id = journey.referral_id

),

grouped as (

    select
        source_kind || ':' || account || ':' || heard_about_answer_normalised as unmatched_answer_id,
        source_kind,
        account,
        heard_about_answer_normalised,
        -- Punctuation-only answers ("-", "?") normalise to null and never get here.
        heard_about_answer_normalised in (
            {%- for answer in non_answers %}'{{ answer }}'{{ ", " if not loop.last }}{% endfor -%}
        ) as is_non_answer,
        min(heard_about_answer) as example_answer,
        cast(count(*) as bigint) as referrals,
        cast(sum(case when attribution_method = 'unknown' then 1 else 0 end) as bigint)
            as unknown_referrals,
        min(received_at) as first_received_at,
        max(received_at) as last_received_at,
        max(case when suggestion_rank = 1 then intake_answer_best_candidate_partner_id end)
            as best_candidate_partner_id,
        max(case when suggestion_rank = 1 then intake_answer_similarity end)
            as best_candidate_similarity
    from answers
    group by source_kind, account, heard_about_answer_normalised

),

final as (

    select
        unmatched_answer_id,
        source_kind,
        account,
        heard_about_answer_normalised,
        is_non_answer,
        example_answer,
        referrals,
        unknown_referrals,
        first_received_at,
        last_received_at,
        case when is_suggested then best_candidate_partner_id end as suggested_partner_id,
        case when is_suggested then best_candidate_similarity end as suggested_similarity
    from (
        select
            *,
            not is_non_answer
                and coalesce(
                    best_candidate_similarity >= {{ var('suggestion_min_similarity') }}, false
                ) as is_suggested
        from grouped
    ) as judged

)

select * from final
