-- requires: unmatched_intake_answers. "How did you hear about us" answers no partner matched,
-- normalised and counted (issue 4's mart); the clinic maps them through registry aliases.
select
    heard_about_answer_normalised::varchar as answer,
    referrals::bigint as referrals,
    unknown_referrals::bigint as unknown_referrals,
    suggested_partner_id::varchar as suggested_partner_id,
    suggested_similarity::double as suggested_similarity
from main.unmatched_intake_answers
-- A mart with no rows still yields the placeholder row of unmatched_intake_answers.absent.sql.
union all
select
    '' as answer,
    0::bigint as referrals,
    0::bigint as unknown_referrals,
    '' as suggested_partner_id,
    0::double as suggested_similarity
where not exists (select 1 from main.unmatched_intake_answers)
