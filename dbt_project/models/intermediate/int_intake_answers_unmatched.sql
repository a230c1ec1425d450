-- Intake "how did you hear about us" answers that matched no registry partner, one row per
-- account and normalised answer, for the clinic to map (add an alias or a partner). Listed even
-- when a higher-precedence rule attributed the referral: the answer is still unmapped.
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

final as (

    select
        source_kind || ':' || account || ':' || heard_about_answer_normalised as unmatched_answer_id,
        source_kind,
        account,
        heard_about_answer_normalised,
        min(heard_about_answer) as example_answer,
        cast(count(*) as bigint) as referrals,
        cast(sum(case when attribution_method = 'unknown' then 1 else 0 end) as bigint)
            as unknown_referrals,
        min(received_at) as first_received_at,
        max(received_at) as last_received_at,
        max(case when suggestion_rank = 1 then intake_answer_best_candidate_partner_id end)
            as suggested_partner_id,
        max(case when suggestion_rank = 1 then intake_answer_similarity end) as suggested_similarity
    from answers
    group by source_kind, account, heard_about_answer_normalised

)

select * from final
