-- The clinic filter's choices: '(all)' first, then each clinic in the referrals (with no
-- referral source configured: each clinic with appointments).
select '(all)' as clinic_id, 'All clinics' as clinic_name, 0 as sort_order
union all
select distinct clinic_id::varchar, clinic_name, 1
from main.referrals
union all
select distinct a.clinic_id::varchar, coalesce(c.clinic_name, a.clinic_id), 1
from main.appointments as a
left join main.clinics as c on c.clinic_id = a.clinic_id
where a.clinic_id is not null
  and not exists (select 1 from main.referrals)
