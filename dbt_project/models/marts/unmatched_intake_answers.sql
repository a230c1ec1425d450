-- Intake "how did you hear about us" answers that matched no registry partner, for the clinic to
-- map (add an alias or a partner to the registry): one row per account and normalised answer.
with

unmatched as (

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
        suggested_partner_id,
        suggested_similarity
    from {{ ref('int_intake_answers_unmatched') }}

),

partners as (

    select
        partner_id,
        partner_name
    from {{ ref('int_partners_unified') }}

),

final as (

    select
        unmatched.unmatched_answer_id,
        unmatched.source_kind,
        unmatched.account,
        unmatched.heard_about_answer_normalised as answer_normalised,
        unmatched.is_non_answer,
        unmatched.example_answer,
        cast(unmatched.referrals as bigint) as referrals,
        cast(unmatched.unknown_referrals as bigint) as unknown_referrals,
        unmatched.first_received_at,
        unmatched.last_received_at,
        unmatched.suggested_partner_id,
        partners.partner_name as suggested_partner_name,
        cast(unmatched.suggested_similarity as double) as suggested_similarity
    from unmatched
    left join partners
        on unmatched.suggested_partner_id = partners.partner_id

)

select * from final
