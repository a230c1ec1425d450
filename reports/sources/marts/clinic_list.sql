-- The clinic filter's choices: '(all)' first, then each clinic in the referrals.
select '(all)' as clinic_id, 'All clinics' as clinic_name, 0 as sort_order
union all
select distinct clinic_id::varchar, clinic_name, 1
from main.referrals
