-- requires: unmatched_intake_answers. "How did you hear about us" answers no partner matched,
-- normalised and counted; the clinic maps them through registry aliases. Free text can name a
-- person, so the site lists only answers at least two referrals gave; the full list stays in
-- the published mart for the clinic's own analyst. No suggestion is '' (an all-null column
-- loses its type in the site's Parquet).
select
    answer_normalised::varchar as answer,
    referrals::bigint as referrals,
    unknown_referrals::bigint as unknown_referrals,
    coalesce(suggested_partner_id, '')::varchar as suggested_partner_id,
    coalesce(suggested_partner_name, '')::varchar as suggested_partner_name,
    is_non_answer::boolean as is_non_answer
from main.unmatched_intake_answers
where referrals >= 2
-- A mart with no rows still yields the placeholder row of unmatched_intake_answers.absent.sql.
union all
select
    '' as answer,
    0::bigint as referrals,
    0::bigint as unknown_referrals,
    '' as suggested_partner_id,
    '' as suggested_partner_name,
    false as is_non_answer
where not exists (select 1 from main.unmatched_intake_answers where referrals >= 2)
