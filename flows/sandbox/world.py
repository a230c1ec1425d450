"""The sandbox's synthetic Cliniko account, built deterministically from (seed, scale, end_date).

One account, two clinics, 18 months of referrals with their intake forms, appointments and
invoices, shaped so that each referral partner shows a known behaviour (see `catalogue.py`).
Every random choice comes from one `random.Random(seed)`; nothing reads the clock.

Records are plain dicts shaped like Cliniko's API (docs/contracts.md, "Cliniko world
conventions"). Their links point at `BASE_PLACEHOLDER`; the server swaps in its own base URL.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from statistics import NormalDist
from zoneinfo import ZoneInfo

from flows.sandbox.catalogue import (
    CASE_NAMES,
    CLINICS,
    COMPLAINTS,
    CONTACT_CITY,
    NON_REFERRING_CONTACTS,
    OTHER_SOURCE_NOTES,
    PARTNERS,
    SOURCE_TYPES,
    TOTAL_REFERRALS,
    TOUCHPOINT_NOTES,
    UNKNOWN_VOLUME,
    UNMATCHED_ANSWERS,
    ClinicSpec,
    ContactSpec,
    PartnerSpec,
    SourceTypeSpec,
)
from flows.sandbox.people import Identity, IdentityFactory

BASE_PLACEHOLDER = "https://sandbox.invalid/v1"
RESOURCES = (
    "businesses",
    "practitioners",
    "appointment_types",
    "contacts",
    "referral_source_types",
    "referral_sources",
    "patients",
    "patient_cases",
    "individual_appointments",
    "patient_forms",
    "invoices",
    "group_appointments",
    "attendees",
    "communications",
)
GROUP_CLASS_NAME = "Back Rehab Class"
GROUP_CLASSES_PER_CLINIC = 26  # at scale 1, spread over the history
HISTORY_MONTHS = 18
REGISTRY_SOURCE = "sandbox"  # the account name the demo config gives this world
INTAKE_FORM_NAME = "New Patient Intake"
HEARD_QUESTION = "How did you hear about us?"
CONSENT_QUESTION = "May we update the person who referred you on your progress?"
DST_APPOINTMENTS_PER_CHANGE = 3
_NORMAL = NormalDist()
_FATES = ("not_contacted", "intake_not_completed", "not_booked", "booked_without_intake", "booked")
_CANCELLATIONS = (
    (10, "Feeling Better", 3),
    (20, "Condition Worse", 1),
    (30, "Sick", 4),
    (40, "Away", 3),
    (50, "Other", 2),
    (60, "Work", 3),
)
_INVOICE_STATUS = {10: "Open", 20: "Paid", 30: "Closed"}


@dataclass(frozen=True)
class _Profile:
    """How a partner's referrals travel through the funnel."""

    fates: tuple[float, ...]  # shares of _FATES
    first_outcome: tuple[float, float, float]  # first appointment: attended, dna, cancelled
    book_median_days: float
    book_sigma: float
    contact_median_hours: float
    dna: float  # later appointments
    cancel: float
    no_follow_up: float  # attended first visits that are the only one
    max_follow_ups: int


_ORDINARY = _Profile(
    (0.04, 0.08, 0.12, 0.04, 0.72), (0.83, 0.07, 0.10), 3.0, 0.9, 4.0, 0.07, 0.09, 0.25, 6
)
PROFILES: dict[str, _Profile] = {
    "ordinary": _ORDINARY,
    "going_quiet": _ORDINARY,
    "new": _ORDINARY,
    "strong_converter": _Profile(
        (0.01, 0.03, 0.04, 0.02, 0.90), (0.91, 0.03, 0.06), 1.2, 0.8, 1.0, 0.03, 0.06, 0.08, 8
    ),
    "slow_booker": _Profile(
        (0.04, 0.08, 0.16, 0.04, 0.68), (0.82, 0.08, 0.10), 20.0, 0.35, 8.0, 0.07, 0.09, 0.25, 6
    ),
    "high_dna": _Profile(
        (0.04, 0.10, 0.14, 0.04, 0.68), (0.48, 0.42, 0.10), 3.5, 0.9, 4.0, 0.36, 0.10, 0.35, 5
    ),
    "unknown": _Profile(
        (0.06, 0.12, 0.16, 0.06, 0.60), (0.82, 0.08, 0.10), 4.0, 1.0, 6.0, 0.08, 0.10, 0.30, 6
    ),
}
# The smallest number of referrals a partner gets at any scale, so that tiny worlds still show
# every partner and behaviour.
_MIN_REFERRALS = {
    "ordinary": 1,
    "strong_converter": 3,
    "slow_booker": 4,
    "high_dna": 5,
    "going_quiet": 6,
    "new": 3,
}


# --- public result ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Touchpoint:
    date: date
    kind: str
    note: str


@dataclass(frozen=True)
class PartnerFacts:
    """A partner as the world made it: its catalogue entry plus the ids and dates it got."""

    spec: PartnerSpec
    contact_ids: tuple[str, ...]
    start_date: date
    touchpoints: tuple[Touchpoint, ...]
    referrals: int

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def behaviour(self) -> str:
        return self.spec.behaviour

    @property
    def registered(self) -> bool:
        return self.spec.registered


@dataclass(frozen=True)
class ReferralFact:
    """Ground truth for one referral (patient case), for tests and benchmarks."""

    case_id: str
    patient_id: str
    clinic: str
    partner_id: str | None  # None: the referral has no partner (the "unknown" share)
    received_at: str
    fate: str
    has_case_contact: bool
    has_referral_source: bool
    heard_about_answer: str | None
    returning_patient: bool


@dataclass
class World:
    seed: int
    scale: float
    end_date: date
    start_date: date
    as_of: datetime
    resources: dict[str, list[dict]]
    partners: list[PartnerFacts]
    referrals: list[ReferralFact]
    identities: list[tuple[str, Identity]]  # (patient id, identity)

    def patient_identities(self) -> list[dict[str, str]]:
        """Every invented identifying value per patient (no ids: those are not identifying)."""
        return [
            {
                "first_name": ident.first_name,
                "last_name": ident.last_name,
                "full_name": ident.full_name,
                "email": ident.email,
                "phone": ident.phone,
                "phone_normalized": ident.phone_normalized,
                "date_of_birth": ident.date_of_birth,
                "address_1": ident.address_1,
                "post_code": ident.post_code,
            }
            for _, ident in self.identities
        ]

    def counts(self) -> dict[str, int]:
        return {name: len(self.resources[name]) for name in RESOURCES}

    def partner(self, partner_id: str) -> PartnerFacts:
        return next(p for p in self.partners if p.id == partner_id)

    def to_json(self) -> str:
        """The whole world as canonical JSON (same seed and scale give the same bytes)."""
        body = {
            "seed": self.seed,
            "scale": self.scale,
            "end_date": self.end_date.isoformat(),
            "resources": self.resources,
            "registry": registry_yaml(self),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def build_world(seed: int = 7, scale: float = 1.0, end_date: date = date(2026, 11, 30)) -> World:
    """Build the synthetic account: ~1,500 referrals at scale 1 over 18 months to `end_date`."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return _Builder(seed, scale, end_date).build()


# --- small helpers ---------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """Cliniko's timestamp format: UTC, whole seconds, `Z`."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _consent_fields(patient_id: str) -> dict | None:
    """The "Share my progress with my referrer" custom field: ~40% yes, 20% no, 40% unanswered.

    Derived from the id, not from the world's random stream, so adding it changed nothing else.
    """
    answer = {0: "Yes", 1: "Yes", 2: "No"}.get(int(patient_id) % 5)
    if answer is None:
        return None

    def token(name: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"refnet-sandbox-consent-{name}"))

    options = [
        {"name": o, "token": token(o), "selected": o == answer, "archived": False}
        for o in ("Yes", "No")
    ]
    question = {
        "name": "Share my progress with my referrer",
        "token": token("field"),
        "type": "radiobuttons",
        "archived": False,
        "options": options,
    }
    return {
        "sections": [
            {"name": "Consent", "token": token("section"), "archived": False, "fields": [question]}
        ]
    }


def _link(path: str) -> dict:
    return {"links": {"self": f"{BASE_PLACEHOLDER}/{path}"}}


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` in proportion to `weights`, in whole numbers that add up exactly."""
    weight_sum = sum(weights)
    raw = [total * w / weight_sum for w in weights]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _quota(rng: random.Random, n: int, labels: Sequence[str], shares: Sequence[float]) -> list[str]:
    # Exact proportions then shuffled: small worlds keep each partner's behaviour.
    out = [
        label
        for label, c in zip(labels, _largest_remainder(n, shares), strict=True)
        for _ in range(c)
    ]
    rng.shuffle(out)
    return out


def _stratified_lognormal(rng: random.Random, n: int, median: float, sigma: float) -> list[float]:
    # One draw per quantile band: the sample median stays near `median` even for n = 3.
    values = [
        median * math.exp(sigma * _NORMAL.inv_cdf((i + 0.05 + 0.9 * rng.random()) / n))
        for i in range(n)
    ]
    rng.shuffle(values)
    return values


def _typo(rng: random.Random, text: str) -> str:
    """One slip of the finger: a letter dropped, doubled or swapped with its neighbour."""
    positions = [i for i, ch in enumerate(text[:-1]) if ch.isalpha() and text[i + 1].isalpha()]
    if len(text) < 6 or not positions:
        return text
    i = rng.choice(positions)
    op = rng.randrange(3)
    if op == 0:
        return text[:i] + text[i + 1 :]
    if op == 1:
        return text[:i] + text[i] + text[i:]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


class _Ids:
    """18-digit string ids like Cliniko's, increasing with creation time (id order = created
    order, which is also Cliniko's default list order)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[int] = set()

    def new(self, created: datetime) -> str:
        millis = int(created.timestamp()) * 1000 + self._rng.randrange(1000)
        while True:
            value = millis * 100_000 + self._rng.randrange(100_000)
            if value not in self._used:
                self._used.add(value)
                return str(value)


class _Diary:
    """Practitioners' taken 15-minute blocks, so nobody is double-booked."""

    def __init__(self) -> None:
        self._taken: set[tuple[str, int]] = set()

    @staticmethod
    def _blocks(start: datetime, minutes: int) -> range:
        first = int(start.timestamp()) // 900
        return range(first, first + minutes // 15)

    def free(self, practitioner_id: str, start: datetime, minutes: int) -> bool:
        return all((practitioner_id, b) not in self._taken for b in self._blocks(start, minutes))

    def take(self, practitioner_id: str, start: datetime, minutes: int) -> None:
        self._taken.update((practitioner_id, b) for b in self._blocks(start, minutes))


@dataclass
class _Clinic:
    spec: ClinicSpec
    business_id: str
    tz: ZoneInfo
    practitioner_ids: list[str]
    dst_days: list[date]
    dst_booked: dict[date, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass
class _Patient:
    record: dict
    identity: Identity
    clinic: _Clinic
    last_received: datetime
    last_activity: datetime


@dataclass
class _Plan:
    """One referral before it is realised as records."""

    partner: PartnerSpec | None
    profile: _Profile
    clinic: _Clinic
    received: datetime
    contact: ContactSpec | None
    fate: str
    first_outcome: str | None
    days_to_book: float | None
    force_signal: bool  # the partner's first referral always names it, so it is never lost


@dataclass
class _Episode:
    last_end: datetime | None = None
    last_status: str | None = None


# --- the builder -----------------------------------------------------------------------------


class _Builder:
    def __init__(self, seed: int, scale: float, end_date: date) -> None:
        self.seed, self.scale, self.end_date = seed, scale, end_date
        self.rng = random.Random(seed)
        self.ids = _Ids(self.rng)
        self.people = IdentityFactory(self.rng, end_date)
        self.start_date = _add_months(end_date + timedelta(days=1), -HISTORY_MONTHS)
        self.as_of = datetime(end_date.year, end_date.month, end_date.day, 23, 59, 59, tzinfo=UTC)
        self.out: dict[str, list[dict]] = {name: [] for name in RESOURCES}
        self.diary = _Diary()
        self.clinics: dict[str, _Clinic] = {}
        self.type_ids: dict[str, str] = {}  # appointment type name -> id
        self.source_type_ids: dict[str, str] = {}
        self.contact_ids: dict[tuple[str, str], str] = {}  # (partner id, last name) -> id
        self.partner_starts: dict[str, date] = {}
        self.patients: dict[str, list[_Patient]] = {}
        self.referral_facts: list[ReferralFact] = []
        self.identities: list[tuple[str, Identity]] = []

    def build(self) -> World:
        self._add_account()
        plans = self._plan_referrals()
        for plan in sorted(plans, key=lambda p: p.received):
            self._realise(plan)
        self._finish_patients()
        self._number_invoices()
        # Added last, so that the records above stay exactly what they were before these
        # streams existed (same seed, same bytes).
        self._group_classes()
        self._communications()
        for records in self.out.values():
            records.sort(key=lambda r: int(r.get("id") or _link_id(r)))
        return World(
            seed=self.seed,
            scale=self.scale,
            end_date=self.end_date,
            start_date=self.start_date,
            as_of=self.as_of,
            resources=self.out,
            partners=self._partner_facts(),
            referrals=self.referral_facts,
            identities=self.identities,
        )

    # --- time ---------------------------------------------------------------------------

    def _utc(self, clinic: _Clinic, day: date, minute: int) -> datetime:
        local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=clinic.tz)
        return local.astimezone(UTC)

    def _at(self, text: str, hour: int = 9) -> datetime:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, hour, self.rng.randrange(60), tzinfo=UTC)

    def _clamp(self, moment: datetime) -> datetime:
        return min(moment, self.as_of)

    def _dst_days(self, tz: ZoneInfo) -> list[date]:
        days, day = [], self.start_date
        while day <= self.end_date + timedelta(days=120):
            before = datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()
            nxt = day + timedelta(days=1)
            if before != datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).utcoffset():
                days.append(day)
            day = nxt
        return days

    # --- account set-up -----------------------------------------------------------------

    def _add_account(self) -> None:
        types = (("Initial Assessment", 45, "#2E7D32", 24), ("Follow-up", 30, "#1565C0", 2))
        for name, minutes, colour, lead in types:
            self.type_ids[name] = self._appointment_type(name, minutes, colour, lead)
        for spec in CLINICS:
            self._add_clinic(spec)
        for partner in PARTNERS:
            self.partner_starts[partner.id] = self._partner_start(partner)
        for source in SOURCE_TYPES:
            self._add_source_type(source)
        for partner in PARTNERS:
            for contact in partner.contacts:
                self._add_contact(partner, contact)
        for clinic_key, contact in NON_REFERRING_CONTACTS:
            self._add_contact(None, contact, clinic_key)

    def _appointment_type(self, name: str, minutes: int, colour: str, lead_hours: int) -> str:
        created = self._at("2019-03-04")
        type_id = self.ids.new(created)
        self.out["appointment_types"].append(
            {
                "id": type_id,
                "created_at": iso(created),
                "updated_at": iso(created),
                "name": name,
                "category": "Physiotherapy",
                "color": colour,
                "description": None,
                "duration_in_minutes": minutes,
                "max_attendees": 1,
                "show_in_online_bookings": True,
                "online_bookings_lead_time_hours": lead_hours,
                "telehealth_enabled": False,
                "online_payments_enabled": False,
                "online_payments_mode": None,
                "deposit_price": None,
                "add_deposit_to_account_credit": None,
                "appointment_confirmation_template_ids": None,
                "appointment_reminder_template_ids": None,
                "appointment_follow_up_template_ids": None,
                "archived_at": None,
                "appointment_type_billable_items": _link(
                    f"appointment_type_billable_items?q%5B%5D=appointment_type_id%3A%3D{type_id}"
                ),
                "appointment_type_products": _link(
                    f"appointment_type_products?q%5B%5D=appointment_type_id%3A%3D{type_id}"
                ),
                "practitioners": _link(f"appointment_types/{type_id}/practitioners"),
                "links": {"self": f"{BASE_PLACEHOLDER}/appointment_types/{type_id}"},
            }
        )
        return type_id

    def _add_clinic(self, spec: ClinicSpec) -> None:
        created = self._at(spec.opened)
        business_id = self.ids.new(created)
        tz = ZoneInfo(spec.time_zone_identifier)
        reg_name, reg_value = spec.registration or (None, None)
        self.out["businesses"].append(
            {
                "id": business_id,
                "created_at": iso(created),
                "updated_at": iso(created + timedelta(days=400)),
                "business_name": spec.business_name,
                "display_name": spec.business_name,
                "label": spec.business_name,
                "address_1": spec.address_1,
                "address_2": None,
                "city": spec.city,
                "state": spec.state,
                "post_code": spec.post_code,
                "country": spec.country,
                "country_code": spec.country_code,
                "time_zone": spec.time_zone,
                "time_zone_identifier": spec.time_zone_identifier,
                "contact_information": f"Phone: {spec.phone}",
                "email_reply_to": spec.email_reply_to,
                "website_address": spec.website_address,
                "additional_information": None,
                "additional_invoice_information": None,
                "business_registration_name": reg_name,
                "business_registration_value": reg_value,
                "show_in_online_bookings": True,
                "appointment_reminders_enabled": True,
                "appointment_type_ids": list(self.type_ids.values()),
                "archived_at": None,
                "deleted_at": None,
                "appointments": _link(f"businesses/{business_id}/appointments"),
                "practitioners": _link(f"businesses/{business_id}/practitioners"),
                "links": {"self": f"{BASE_PLACEHOLDER}/businesses/{business_id}"},
            }
        )
        clinic = _Clinic(spec, business_id, tz, [], self._dst_days(tz))
        for title, first, last, designation in spec.practitioners:
            prac_id = self._practitioner(spec, title, first, last, designation)
            clinic.practitioner_ids.append(prac_id)
        self.clinics[spec.key] = clinic
        self.patients[spec.key] = []

    def _practitioner(
        self, clinic: ClinicSpec, title: str, first: str, last: str, designation: str
    ) -> str:
        created = self._at(clinic.opened) + timedelta(days=self.rng.randrange(1, 300))
        prac_id = self.ids.new(created)
        user_id = self.ids.new(created)
        self.out["practitioners"].append(
            {
                "id": prac_id,
                "created_at": iso(created),
                "updated_at": iso(created + timedelta(days=self.rng.randrange(1, 200))),
                "title": title,
                "first_name": first,
                "last_name": last,
                "display_name": f"{first} {last}",
                "label": f"{first} {last}",
                "designation": designation,
                "description": None,
                "active": True,
                "show_in_online_bookings": True,
                "appointment_types": _link(f"practitioners/{prac_id}/appointment_types"),
                "appointments": _link(f"practitioners/{prac_id}/appointments"),
                "default_appointment_type": _link(
                    f"appointment_types/{self.type_ids['Initial Assessment']}"
                ),
                "invoices": _link(f"practitioners/{prac_id}/invoices"),
                "practitioner_reference_numbers": _link(
                    f"practitioners/{prac_id}/practitioner_reference_numbers"
                ),
                "user": _link(f"users/{user_id}"),
                "links": {"self": f"{BASE_PLACEHOLDER}/practitioners/{prac_id}"},
            }
        )
        return prac_id

    def _subcategories(self, type_name: str) -> list[str] | None:
        subs = [
            p.subcategory
            for p in PARTNERS
            if p.source_type == type_name and p.subcategory is not None
        ]
        return subs or None

    def _add_source_type(self, source: SourceTypeSpec) -> None:
        created = self._at(source.created)
        type_id = self.ids.new(created)
        # A type changes when the clinic adds a subcategory for a new partner.
        added = [self.partner_starts[p.id] for p in PARTNERS if p.source_type == source.name]
        updated = max([created, *(datetime(d.year, d.month, d.day, 10, tzinfo=UTC) for d in added)])
        archived = self._at(source.archived) if source.archived else None
        referrers = {"Contact": _link("contacts"), "Patient": _link("patients")}
        self.out["referral_source_types"].append(
            {
                "id": type_id,
                "created_at": iso(created),
                "updated_at": iso(archived or updated),
                "name": source.name,
                "referrer_type": source.referrer_type,
                "referrers": referrers.get(source.referrer_type or ""),
                "subcategories": self._subcategories(source.name),
                "archived_at": iso(archived) if archived else None,
                "links": {"self": f"{BASE_PLACEHOLDER}/referral_source_types/{type_id}"},
            }
        )
        self.source_type_ids[source.name] = type_id

    def _partner_start(self, partner: PartnerSpec) -> date:
        if partner.behaviour == "new":
            return self.end_date - timedelta(days=75)
        # Relationships mostly predate the 18 months of history.
        return self.start_date - timedelta(days=self.rng.randrange(30, 1500))

    def _add_contact(
        self, partner: PartnerSpec | None, contact: ContactSpec, clinic_key: str | None = None
    ) -> None:
        start = self.partner_starts[partner.id] if partner else date(2021, 9, 1)
        created = datetime(start.year, start.month, start.day, 11, 0, tzinfo=UTC)
        contact_id = self.ids.new(created)
        clinic_key = clinic_key or (partner.clinic if partner else None) or "headingley"
        clinic = self.clinics[clinic_key].spec
        archived = None
        if contact.leaves_days_before_end is not None:
            archived = self._at(
                (self.end_date - timedelta(days=contact.leaves_days_before_end)).isoformat(),
                hour=16,
            )
        updated = archived or self._clamp(created + timedelta(days=self.rng.randrange(1, 900)))
        phone = (
            f"0113 496 0{self.rng.randrange(200, 1000):03d}"
            if clinic.country_code == "GB"
            else f"02 7010 {self.rng.randrange(200, 10000):04d}"
        )
        company_slug = "".join(ch for ch in contact.company_name.lower() if ch.isalnum())
        self.out["contacts"].append(
            {
                "id": contact_id,
                "created_at": iso(created),
                "updated_at": iso(updated),
                "title": contact.title or None,
                "first_name": contact.first_name or None,
                "last_name": contact.last_name or None,
                "preferred_name": None,
                "company_name": contact.company_name,
                "occupation": contact.occupation or None,
                "type": contact.type,
                "type_code": {"Standard": 0, "Doctor": 1, "3rd Party Payer": 2}[contact.type],
                "doctor_type": contact.doctor_type,
                "provider_number": None,
                "email": f"referrals@{company_slug}.example",
                "phone_numbers": [{"number": phone, "phone_type": "Work"}],
                "address_1": None,
                "address_2": None,
                "address_3": None,
                "city": CONTACT_CITY[clinic_key],
                "state": clinic.state,
                "post_code": None,
                "country": clinic.country,
                "country_code": clinic.country_code,
                "notes": None,
                "archived_at": iso(archived) if archived else None,
                "deleted_at": None,
                "links": {"self": f"{BASE_PLACEHOLDER}/contacts/{contact_id}"},
            }
        )
        if partner:
            self.contact_ids[(partner.id, contact.last_name)] = contact_id

    # --- planning -------------------------------------------------------------------------

    def _plan_referrals(self) -> list[_Plan]:
        total = max(1, round(TOTAL_REFERRALS * self.scale))
        weights = [p.volume for p in PARTNERS] + [UNKNOWN_VOLUME]
        counts = _largest_remainder(total, weights)
        plans: list[_Plan] = []
        for partner, n in zip(PARTNERS, counts, strict=False):
            plans += self._plan_partner(partner, max(n, _MIN_REFERRALS[partner.behaviour]))
        plans += self._plan_partner(None, counts[-1])
        return plans

    def _plan_partner(self, partner: PartnerSpec | None, n: int) -> list[_Plan]:
        profile = PROFILES[partner.behaviour if partner else "unknown"]
        moments = self._received_moments(partner, n)
        fates = _quota(self.rng, n, _FATES, profile.fates)
        booked = sum(f.startswith("booked") for f in fates)
        outcomes = iter(
            _quota(self.rng, booked, ("attended", "dna", "cancelled"), profile.first_outcome)
        )
        days = iter(
            _stratified_lognormal(self.rng, booked, profile.book_median_days, profile.book_sigma)
        )
        plans = []
        for i, ((clinic, received), fate) in enumerate(zip(moments, fates, strict=True)):
            is_booked = fate.startswith("booked")
            plans.append(
                _Plan(
                    partner=partner,
                    profile=profile,
                    clinic=clinic,
                    received=received,
                    contact=self._referring_contact(partner, received),
                    fate=fate,
                    first_outcome=next(outcomes) if is_booked else None,
                    days_to_book=next(days) if is_booked else None,
                    force_signal=partner is not None and i == 0,
                )
            )
        return plans

    def _received_moments(
        self, partner: PartnerSpec | None, n: int
    ) -> list[tuple[_Clinic, datetime]]:
        """When referrals arrive: spread evenly over the partner's active window."""
        behaviour = partner.behaviour if partner else "ordinary"
        windows = [(self.start_date, self.end_date, n)]
        if behaviour == "new":
            windows = [(self.end_date - timedelta(days=56), self.end_date, n)]
        elif behaviour == "going_quiet":
            quiet_from = self.end_date - timedelta(days=122)
            tail = round(n * 0.025)
            windows = [
                (self.start_date, quiet_from - timedelta(days=1), n - tail),
                (quiet_from, self.end_date, tail),
            ]
        professional = bool(partner and partner.contacts)
        moments = []
        for lo, hi, count in windows:
            span = (hi - lo).days + 1
            for i in range(count):
                day = lo + timedelta(days=int((i + self.rng.random()) / count * span))
                clinic = self._clinic_for(partner)
                moments.append((clinic, self._referral_moment(clinic, day, professional)))
        moments.sort(key=lambda m: m[1])
        return moments

    def _clinic_for(self, partner: PartnerSpec | None) -> _Clinic:
        if partner and partner.clinic:
            return self.clinics[partner.clinic]
        first = CLINICS[0]
        return self.clinics[first.key if self.rng.random() < first.shared_share else CLINICS[1].key]

    def _referral_moment(self, clinic: _Clinic, day: date, professional: bool) -> datetime:
        if professional:  # letters and e-referrals are handled in office hours
            if day.weekday() >= 5:
                monday = day + timedelta(days=7 - day.weekday())
                friday = day - timedelta(days=day.weekday() - 4)
                day = monday if monday <= self.end_date else friday
            minute = self.rng.randrange(8 * 60 + 30, 17 * 60 + 30)
        else:  # patients phone, e-mail or book online whenever suits them
            minute = self.rng.randrange(7 * 60, 22 * 60)
        return min(self._utc(clinic, day, minute), self.as_of)

    def _referring_contact(self, partner: PartnerSpec | None, when: datetime) -> ContactSpec | None:
        if partner is None or not partner.contacts:
            return None
        active = [
            c
            for c in partner.contacts
            if c.leaves_days_before_end is None
            or when.date() < self.end_date - timedelta(days=c.leaves_days_before_end)
        ]
        active = active or list(partner.contacts)
        return self.rng.choices(active, weights=[c.share for c in active])[0]

    # --- realising one referral -------------------------------------------------------------

    def _realise(self, plan: _Plan) -> None:
        patient = self._returning_patient(plan)
        returning = patient is not None
        if patient is None:
            patient = self._new_patient(plan)
        case, has_contact = self._new_case(plan, patient)
        has_source = False if returning else self._referral_source(plan, patient)
        answer = self._intake(plan, patient, has_source or has_contact)
        episode = self._episode(plan, patient, case["id"])
        self._close_case(case, episode)
        patient.last_received = plan.received
        patient.last_activity = max(patient.last_activity, episode.last_end or plan.received)
        self.referral_facts.append(
            ReferralFact(
                case_id=case["id"],
                patient_id=patient.record["id"],
                clinic=plan.clinic.key,
                partner_id=plan.partner.id if plan.partner else None,
                received_at=iso(plan.received),
                fate=plan.fate,
                has_case_contact=has_contact,
                has_referral_source=has_source,
                heard_about_answer=answer,
                returning_patient=returning,
            )
        )

    def _returning_patient(self, plan: _Plan) -> _Patient | None:
        # Only for ordinary partners: a returning patient's referral source still names the
        # partner of their first episode, which would blur a behaviour partner's numbers.
        ordinary = plan.partner is None or plan.partner.behaviour == "ordinary"
        if plan.force_signal or not ordinary or self.rng.random() >= 0.08:
            return None
        cutoff = plan.received - timedelta(days=120)
        candidates = [p for p in self.patients[plan.clinic.key] if p.last_received < cutoff]
        return self.rng.choice(candidates) if candidates else None

    def _new_patient(self, plan: _Plan) -> _Patient:
        ident = self.people.new(plan.clinic.spec.country_code)
        created = plan.received - timedelta(minutes=self.rng.randrange(1, 20))
        patient_id = self.ids.new(created)
        record = {
            "id": patient_id,
            "created_at": iso(created),
            "updated_at": iso(created),
            "title": None,
            "first_name": ident.first_name,
            "last_name": ident.last_name,
            "preferred_first_name": None,
            "date_of_birth": ident.date_of_birth,
            "sex": ident.sex,
            "gender": None,
            "gender_identity": None,
            "pronouns": None,
            "email": ident.email,
            "patient_phone_numbers": [
                {
                    "number": ident.phone,
                    "phone_type": ident.phone_type,
                    "normalized_number": ident.phone_normalized,
                }
            ],
            "address_1": ident.address_1,
            "address_2": None,
            "address_3": None,
            "city": ident.city,
            "state": ident.state,
            "post_code": ident.post_code,
            "country": ident.country,
            "country_code": ident.country_code,
            "time_zone": None,
            "occupation": ident.occupation,
            "emergency_contact": None,
            "notes": None,
            "appointment_notes": None,
            "medicare": None,
            "medicare_reference_number": None,
            "dva_card_number": None,
            "old_reference_id": None,
            "referral_source": None,
            "reminder_type": "SMS",
            "receives_confirmation_emails": True,
            "receives_cancellation_emails": True,
            "accepted_privacy_policy": True,
            "accepted_email_marketing": self.rng.random() < 0.3,
            "accepted_sms_marketing": False,
            "invoice_default_to": None,
            "invoice_email": None,
            "invoice_extra_information": None,
            "label": None,
            "custom_fields": _consent_fields(patient_id),
            "archived_at": None,
            "deleted_at": None,
            "merged_at": None,
            "appointments": _link(f"patients/{patient_id}/appointments"),
            "attendees": _link(f"patients/{patient_id}/attendees"),
            "invoices": _link(f"patients/{patient_id}/invoices"),
            "medical_alerts": _link(f"patients/{patient_id}/medical_alerts"),
            "patient_attachments": _link(f"patients/{patient_id}/patient_attachments"),
            "relationships": _link(f"patients/{patient_id}/relationships"),
            "links": {"self": f"{BASE_PLACEHOLDER}/patients/{patient_id}"},
        }
        self.out["patients"].append(record)
        self.identities.append((patient_id, ident))
        patient = _Patient(record, ident, plan.clinic, plan.received, created)
        self.patients[plan.clinic.key].append(patient)
        return patient

    def _contact_id(self, plan: _Plan) -> str | None:
        if plan.partner is None or plan.contact is None:
            return None
        return self.contact_ids[(plan.partner.id, plan.contact.last_name)]

    def _new_case(self, plan: _Plan, patient: _Patient) -> tuple[dict, bool]:
        contact_id = self._contact_id(plan)
        named = contact_id is not None and (plan.force_signal or self.rng.random() < 0.75)
        # Some letters are logged as referrals without linking the referrer's contact.
        referral = named or (contact_id is not None and self.rng.random() < 0.3)
        case_id = self.ids.new(plan.received)
        ident = patient.identity
        notes = None
        if named:  # free text with identities in it: the pipeline must drop it
            notes = (
                f"Referral letter for {ident.full_name} (DOB {ident.date_of_birth}): "
                f"{self.rng.choice(COMPLAINTS).lower()}."
            )
        case = {
            "id": case_id,
            "created_at": iso(plan.received),
            "updated_at": iso(plan.received),
            "name": self.rng.choice(CASE_NAMES),
            "notes": notes,
            "issue_date": plan.received.astimezone(plan.clinic.tz).date().isoformat(),
            "expiry_date": None,
            "referral": referral,
            "referral_type": None,
            "max_sessions": None,
            "max_invoiceable_amount": None,
            "closed": False,
            "closed_at": None,
            "archived_at": None,
            "include_cancelled_attendees": None,
            "include_dna_attendees": None,
            "attendee_ids": [],
            "patient": _link(f"patients/{patient.record['id']}"),
            "attendees": _link(f"patient_cases/{case_id}/attendees"),
            "bookings": _link(f"patient_cases/{case_id}/bookings"),
            "invoices": _link(f"patient_cases/{case_id}/invoices"),
            "patient_attachments": _link(f"patient_cases/{case_id}/patient_attachments"),
            "links": {"self": f"{BASE_PLACEHOLDER}/patient_cases/{case_id}"},
        }
        if named:
            case["contact"] = _link(f"contacts/{contact_id}")
        self.out["patient_cases"].append(case)
        return case, named

    def _referral_source(self, plan: _Plan, patient: _Patient) -> bool:
        """The patient's structured referral source; True when it names the partner."""
        partner, rng = plan.partner, self.rng
        type_name, referrer, subcategory, notes = None, None, None, None
        if partner is None:
            if rng.random() < 0.25:
                type_name, notes = "Other", rng.choice(OTHER_SOURCE_NOTES)
        elif partner.contacts:
            if plan.force_signal or rng.random() < 0.6:
                type_name, referrer = "Doctor", f"contacts/{self._contact_id(plan)}"
        elif partner.referrer_type == "Patient":
            if plan.force_signal or rng.random() < 0.7:
                type_name, referrer = "Patient", self._referring_patient(plan, patient)
        elif plan.force_signal or rng.random() < 0.65:
            type_name = partner.source_type
            # Now and then only the type is picked, not the subcategory.
            subcategory = partner.subcategory if rng.random() >= 0.03 else None
        if type_name is None:
            return False
        created = datetime.fromisoformat(patient.record["created_at"]) + timedelta(minutes=1)
        referrer_type = {"Doctor": "Contact", "Patient": "Patient"}.get(type_name)
        pid, type_id = patient.record["id"], self.source_type_ids[type_name]
        self.out["referral_sources"].append(
            {
                "created_at": iso(created),
                "updated_at": iso(created),
                "archived_at": None,
                "referrer_type": referrer_type,
                "subcategory": subcategory,
                "notes": notes,
                "referrer": _link(referrer) if referrer else None,
                "patient": _link(f"patients/{pid}"),
                "referral_source_type": _link(f"referral_source_types/{type_id}"),
                "links": {"self": f"{BASE_PLACEHOLDER}/patients/{pid}/referral_source"},
            }
        )
        return partner is not None and (subcategory is not None or not partner.subcategory)

    def _referring_patient(self, plan: _Plan, patient: _Patient) -> str | None:
        earlier = [
            p
            for p in self.patients[plan.clinic.key]
            if p is not patient and p.last_received < plan.received
        ]
        return f"patients/{self.rng.choice(earlier).record['id']}" if earlier else None

    # --- intake -------------------------------------------------------------------------

    def _intake(self, plan: _Plan, patient: _Patient, named_elsewhere: bool) -> str | None:
        """Send the intake form (unless never contacted); returns the heard-about answer."""
        if plan.fate == "not_contacted":
            return None
        rng = self.rng
        hours = plan.profile.contact_median_hours * math.exp(0.8 * rng.gauss(0, 1))
        sent = self._office_hours(plan.clinic, plan.received + timedelta(hours=max(0.1, hours)))
        if sent > self.as_of:
            return None
        completed: datetime | None = None
        if plan.fate in ("not_booked", "booked"):
            completed = sent + timedelta(hours=max(0.05, 6 * math.exp(1.3 * rng.gauss(0, 1))))
            completed = completed if completed <= self.as_of else None
        if rng.random() < 0.06 and sent + timedelta(days=3) < self.as_of:
            # Resent: the first form is archived when the second goes out.
            resend = sent + timedelta(days=rng.uniform(2, 3))
            self._form(plan, patient, sent, None, None, archived=resend)
            sent = resend
            completed = max(completed, resend + timedelta(hours=2)) if completed else None
            completed = completed if completed and completed <= self.as_of else None
        answer = self._heard_answer(plan, named_elsewhere) if completed else None
        self._form(plan, patient, sent, completed, answer)
        return answer

    def _office_hours(self, clinic: _Clinic, moment: datetime) -> datetime:
        local = moment.astimezone(clinic.tz)
        if 8 <= local.hour < 19:
            return moment
        day = local.date() + timedelta(days=1 if local.hour >= 19 else 0)
        return self._utc(clinic, day, 8 * 60 + self.rng.randrange(90))

    def _heard_answer(self, plan: _Plan, named_elsewhere: bool) -> str | None:
        rng, partner = self.rng, plan.partner
        roll = rng.random()
        if partner is None:
            return rng.choice(UNMATCHED_ANSWERS) if roll < 0.55 else None
        if roll < 0.6 or (plan.force_signal and not named_elsewhere):
            answer = rng.choice(partner.answers)
            answer = _typo(rng, answer) if rng.random() < 0.2 else answer
            return answer.lower() if rng.random() < 0.25 else answer
        return rng.choice(UNMATCHED_ANSWERS) if roll < 0.75 else None

    def _form(
        self,
        plan: _Plan,
        patient: _Patient,
        sent: datetime,
        completed: datetime | None,
        answer: str | None,
        archived: datetime | None = None,
    ) -> None:
        form_id = self.ids.new(sent)
        updated = archived or completed or sent
        self.out["patient_forms"].append(
            {
                "id": form_id,
                "created_at": iso(sent),
                "updated_at": iso(updated),
                "name": INTAKE_FORM_NAME,
                "completed_at": iso(completed) if completed else None,
                "edited_at": None,
                "archived_at": iso(archived) if archived else None,
                "email_to_patient_on_completion": False,
                "restricted_to_practitioner": False,
                "signatures": None,
                "url": None,
                "content": self._form_content(patient.identity, completed is not None, answer),
                "business": _link(f"businesses/{plan.clinic.business_id}"),
                "patient": _link(f"patients/{patient.record['id']}"),
                "links": {"self": f"{BASE_PLACEHOLDER}/patient_forms/{form_id}"},
            }
        )

    def _form_content(self, ident: Identity, completed: bool, answer: str | None) -> dict:
        rng = self.rng

        def text(name: str, value: str | None, kind: str = "text", required: bool = False) -> dict:
            question = {"name": name, "type": kind, "required": required}
            if completed and value is not None:
                question["answer"] = value
            return question

        def radio(name: str, options: Sequence[str]) -> dict:
            picked = rng.choice(options) if completed else None
            return {
                "name": name,
                "type": "radiobuttons",
                "required": False,
                "answers": [{"value": o, "selected": o == picked} for o in options],
                "other": {"enabled": False, "selected": False, "value": ""},
            }

        return {
            "sections": [
                {
                    "name": "Your details",
                    "description": None,
                    "questions": [
                        text("Full name", ident.full_name, required=True),
                        text("Date of birth", ident.date_of_birth, "date", required=True),
                        text("Mobile number", ident.phone),
                        text("Email address", ident.email),
                    ],
                },
                {
                    "name": "Your problem",
                    "description": None,
                    "questions": [
                        text(
                            "What would you like help with?",
                            rng.choice(COMPLAINTS),
                            "paragraph",
                            required=True,
                        ),
                        radio(
                            "How long have you had it?",
                            (
                                "Less than 2 weeks",
                                "2 to 6 weeks",
                                "6 weeks to 3 months",
                                "More than 3 months",
                            ),
                        ),
                    ],
                },
                {
                    "name": "About your referral",
                    "description": None,
                    "questions": [
                        text(HEARD_QUESTION, answer),
                        radio(CONSENT_QUESTION, ("Yes", "No")),
                    ],
                },
            ]
        }

    # --- appointments -------------------------------------------------------------------

    def _episode(self, plan: _Plan, patient: _Patient, case_id: str) -> _Episode:
        """First appointment, cancellations and rebookings, then follow-ups."""
        episode = _Episode()
        if plan.days_to_book is None:
            return episode
        rng, profile = self.rng, plan.profile
        booked_at = plan.received + timedelta(days=max(0.02, plan.days_to_book))
        practitioner = rng.choices(plan.clinic.practitioner_ids, weights=(4, 3, 3))[0]
        kind, follow_ups_left, planned = "Initial Assessment", 0, plan.first_outcome
        for _ in range(20):  # guard: an episode never has more appointments than this
            if booked_at > self.as_of:
                break
            lead = (
                timedelta(hours=rng.uniform(2, 120))
                if kind == "Initial Assessment"
                else timedelta(days=rng.uniform(4, 14))
            )
            start = self._find_slot(plan.clinic, practitioner, booked_at + lead, kind)
            if start is None:
                break
            outcome = planned or self._later_outcome(profile)
            planned = None
            status, end, cancelled = self._appointment(
                plan, patient, case_id, kind, practitioner, booked_at, start, outcome
            )
            episode.last_end, episode.last_status = end, status
            if status == "booked":
                break
            if status == "cancelled":
                if rng.random() >= 0.75:
                    break
                booked_at = cancelled + timedelta(days=rng.uniform(0.02, 3))
                continue
            if status == "dna":
                if rng.random() >= 0.35:
                    break
                booked_at = end + timedelta(days=rng.uniform(0.5, 4))
                continue
            if kind == "Initial Assessment":
                kind = "Follow-up"
                follow_ups_left = (
                    0
                    if rng.random() < profile.no_follow_up
                    else rng.randint(1, profile.max_follow_ups)
                )
            else:
                follow_ups_left -= 1
            if follow_ups_left <= 0:
                break
            booked_at = end + timedelta(minutes=rng.uniform(1, 10))  # booked at the desk
            if rng.random() >= 0.85:  # now and then with a colleague
                practitioner = rng.choice(plan.clinic.practitioner_ids)
        return episode

    def _later_outcome(self, profile: _Profile) -> str:
        roll = self.rng.random()
        if roll < profile.dna:
            return "dna"
        return "cancelled" if roll < profile.dna + profile.cancel else "attended"

    def _find_slot(
        self, clinic: _Clinic, practitioner: str, earliest: datetime, kind: str
    ) -> datetime | None:
        minutes = 45 if kind == "Initial Assessment" else 30
        first_day = earliest.astimezone(clinic.tz).date()
        days = (first_day + timedelta(days=n) for n in range(42))
        # A few appointments sit on each clock-change day, to test time-zone handling.
        dst = [
            d
            for d in clinic.dst_days
            if first_day <= d <= first_day + timedelta(days=7)
            and clinic.dst_booked.get(d, 0) < DST_APPOINTMENTS_PER_CHANGE
        ]
        for day in itertools.chain(dst, days):
            hours = next((h for h in clinic.spec.hours if h[0] == day.weekday()), None)
            if hours is None or (day.weekday() == 6 and day not in dst and self.rng.random() < 0.8):
                continue
            slots = list(range(hours[1], hours[2] - minutes + 1, 15))
            for minute in self.rng.sample(slots, min(8, len(slots))):
                start = self._utc(clinic, day, minute)
                if start > earliest and self.diary.free(practitioner, start, minutes):
                    self.diary.take(practitioner, start, minutes)
                    if day in clinic.dst_days:
                        clinic.dst_booked[day] = clinic.dst_booked.get(day, 0) + 1
                    return start
        return None

    def _appointment(
        self,
        plan: _Plan,
        patient: _Patient,
        case_id: str,
        kind: str,
        practitioner: str,
        booked_at: datetime,
        start: datetime,
        outcome: str,
    ) -> tuple[str, datetime, datetime | None]:
        """Add one appointment; returns its status as of the world's end, its end, and when it
        was cancelled."""
        rng = self.rng
        end = start + timedelta(minutes=45 if kind == "Initial Assessment" else 30)
        status, cancelled, marked = self._resolve(outcome, booked_at, start, end)
        appt_id = self.ids.new(booked_at)
        record = self._appointment_record(
            plan, patient, case_id, kind, practitioner, appt_id, booked_at, start, end
        )
        reminder = start - timedelta(days=1)
        record["sms_reminder_sent"] = booked_at < reminder <= self.as_of
        updated = reminder if record["sms_reminder_sent"] else booked_at
        invoiced = False
        if status == "cancelled":
            code, description, _ = rng.choices(
                _CANCELLATIONS, weights=[c[2] for c in _CANCELLATIONS]
            )[0]
            record.update(
                cancelled_at=iso(cancelled),
                cancellation_reason=code,
                cancellation_reason_description=description,
                cancellation_note=rng.choice((None, None, "Rang to cancel", "Cancelled online")),
            )
            updated = cancelled
        elif status == "dna":
            record["did_not_arrive"] = True
            updated = marked
        elif status == "attended":
            roll = rng.random()
            # Now and then reception forgets to mark arrival; the invoice still shows the visit.
            record["patient_arrived"] = roll >= 0.06
            invoiced = roll >= 0.01
            updated = marked if record["patient_arrived"] else updated
        record["updated_at"] = iso(max(updated, booked_at))
        self.out["individual_appointments"].append(record)
        if invoiced:
            self._invoice(plan, patient, appt_id, practitioner, kind, start, end)
        if rng.random() < 0.012:
            self._archived_duplicate(record, booked_at)
        return status, end, cancelled

    def _resolve(
        self, outcome: str, booked_at: datetime, start: datetime, end: datetime
    ) -> tuple[str, datetime | None, datetime | None]:
        """The appointment's state at the end of the world: (status, cancelled_at, marked_at)."""
        rng = self.rng
        if outcome == "cancelled":
            if rng.random() < 0.35:  # late cancellation, on the day or the evening before
                cancelled = start - timedelta(hours=rng.uniform(1, 20))
            else:
                cancelled = booked_at + (start - booked_at) * rng.uniform(0.1, 0.9)
            cancelled = max(cancelled, booked_at + timedelta(minutes=5))
            if cancelled <= self.as_of:
                return "cancelled", cancelled, None
            outcome = "attended"
        if outcome == "dna":
            marked = end + timedelta(hours=rng.uniform(0.3, 8))
        else:
            marked = start + timedelta(minutes=rng.uniform(-10, 20))
        if marked > self.as_of or start > self.as_of:
            return "booked", None, None
        return outcome, None, marked

    def _appointment_record(
        self,
        plan: _Plan,
        patient: _Patient,
        case_id: str,
        kind: str,
        practitioner: str,
        appt_id: str,
        booked_at: datetime,
        start: datetime,
        end: datetime,
    ) -> dict:
        return {
            "id": appt_id,
            "created_at": iso(booked_at),
            "updated_at": iso(booked_at),
            "starts_at": iso(start),
            "ends_at": iso(end),
            "patient_name": patient.identity.full_name,
            "cancelled_at": None,
            "cancellation_reason": None,
            "cancellation_reason_description": None,
            "cancellation_note": None,
            "did_not_arrive": False,
            "patient_arrived": False,
            "archived_at": None,
            "deleted_at": None,
            "notes": None,
            "booking_ip_address": None,
            "email_reminder_sent": False,
            "sms_reminder_sent": False,
            "invoice_status": None,
            "online_booking_policy_accepted": None,
            "repeat_rule": None,
            "repeats": None,
            "has_patient_appointment_notes": False,
            "telehealth_url": None,
            "treatment_note_status": None,
            "appointment_type": _link(f"appointment_types/{self.type_ids[kind]}"),
            "business": _link(f"businesses/{plan.clinic.business_id}"),
            "practitioner": _link(f"practitioners/{practitioner}"),
            "patient": _link(f"patients/{patient.record['id']}"),
            "patient_case": _link(f"patient_cases/{case_id}"),
            "attendees": _link(f"individual_appointments/{appt_id}/attendees"),
            "conflicts": _link(f"individual_appointments/{appt_id}/conflicts"),
            "links": {"self": f"{BASE_PLACEHOLDER}/individual_appointments/{appt_id}"},
        }

    def _archived_duplicate(self, original: dict, booked_at: datetime) -> None:
        """A booking made twice by mistake; the copy is archived (Cliniko's delete)."""
        created = booked_at + timedelta(minutes=self.rng.uniform(1, 5))
        archived = created + timedelta(minutes=self.rng.uniform(3, 90))
        if archived > self.as_of:
            return
        copy_id = self.ids.new(created)
        copy = json.loads(json.dumps(original))
        copy.update(
            id=copy_id,
            created_at=iso(created),
            updated_at=iso(archived),
            archived_at=iso(archived),
            cancelled_at=None,
            cancellation_reason=None,
            cancellation_reason_description=None,
            cancellation_note=None,
            did_not_arrive=False,
            patient_arrived=False,
            sms_reminder_sent=False,
            attendees=_link(f"individual_appointments/{copy_id}/attendees"),
            conflicts=_link(f"individual_appointments/{copy_id}/conflicts"),
            links={"self": f"{BASE_PLACEHOLDER}/individual_appointments/{copy_id}"},
        )
        self.out["individual_appointments"].append(copy)

    # --- invoices -----------------------------------------------------------------------

    def _invoice(
        self,
        plan: _Plan,
        patient: _Patient,
        appt_id: str,
        practitioner: str,
        kind: str,
        start: datetime,
        end: datetime,
    ) -> None:
        rng = self.rng
        created = end + timedelta(minutes=rng.uniform(2, 120))
        if created > self.as_of:
            return
        if rng.random() < 0.01:  # issued wrongly, deleted, issued again
            deleted = created + timedelta(hours=rng.uniform(1, 48))
            if deleted + timedelta(minutes=10) <= self.as_of:
                self._invoice_record(
                    plan, patient, appt_id, practitioner, kind, start, created, deleted=deleted
                )
                created = deleted + timedelta(minutes=rng.uniform(1, 10))
        self._invoice_record(plan, patient, appt_id, practitioner, kind, start, created)

    def _invoice_record(
        self,
        plan: _Plan,
        patient: _Patient,
        appt_id: str,
        practitioner: str,
        kind: str,
        start: datetime,
        created: datetime,
        deleted: datetime | None = None,
    ) -> None:
        rng = self.rng
        status, updated, closed = 10, created, None
        paid = created + timedelta(days=rng.expovariate(1 / 2.0))
        roll = rng.random()
        if roll < 0.02:  # written off: closed without payment
            closed = self._clamp(created + timedelta(days=rng.uniform(20, 60)))
            status, updated = 30, closed
        elif roll < 0.97 and paid <= self.as_of:
            status, updated = 20, paid
        if deleted:
            status, updated, closed = 10, deleted, None
        amount = plan.clinic.spec.prices[0 if kind == "Initial Assessment" else 1]
        invoice_id = self.ids.new(created)
        ident = patient.identity
        self.out["invoices"].append(
            {
                "id": invoice_id,
                "created_at": iso(created),
                "updated_at": iso(updated),
                "number": 0,  # numbered per business in creation order at the end
                "issue_date": start.astimezone(plan.clinic.tz).date().isoformat(),
                "total_amount": amount,
                "net_amount": amount,
                "tax_amount": "0.00",
                "discounted_amount": "0.00",
                "status": status,
                "status_description": _INVOICE_STATUS[status],
                "notes": None,
                "invoice_to": "\n".join(
                    (ident.full_name, ident.address_1, f"{ident.city} {ident.post_code}")
                ),
                "patient_extra_information": None,
                "calculation_method": None,
                "calculation_method_description": None,
                "online_payment_url": None,
                "closed_at": iso(closed) if closed else None,
                "deleted_at": iso(deleted) if deleted else None,
                "archived_at": None,
                # Cliniko links an invoice to the generic appointment path (see the OpenAPI spec).
                "appointment": _link(f"appointments/{appt_id}"),
                "business": _link(f"businesses/{plan.clinic.business_id}"),
                "practitioner": _link(f"practitioners/{practitioner}"),
                "patient": _link(f"patients/{patient.record['id']}"),
                "invoice_items": _link(f"invoices/{invoice_id}/invoice_items"),
                "links": {"self": f"{BASE_PLACEHOLDER}/invoices/{invoice_id}"},
            }
        )

    def _number_invoices(self) -> None:
        by_business: dict[str, list[dict]] = {}
        for invoice in self.out["invoices"]:
            by_business.setdefault(invoice["business"]["links"]["self"], []).append(invoice)
        for invoices in by_business.values():
            invoices.sort(key=lambda r: (r["created_at"], int(r["id"])))
            for number, invoice in enumerate(invoices, start=1001):
                invoice["number"] = number

    # --- group classes and communications --------------------------------------------------

    def _group_classes(self) -> None:
        """A weekly-ish rehab class per clinic; attendees are the clinic's existing patients."""
        span = (self.end_date - self.start_date).days
        per_clinic = max(2, round(GROUP_CLASSES_PER_CLINIC * self.scale))
        for clinic in self.clinics.values():
            patients = self.patients[clinic.key]
            for i in range(per_clinic):
                day = self.start_date + timedelta(
                    days=int((i + self.rng.random()) / per_clinic * span)
                )
                earliest = self._utc(clinic, day, 8 * 60)
                practitioner = self.rng.choice(clinic.practitioner_ids)
                start = self._find_slot(clinic, practitioner, earliest, "Follow-up")
                if start is None or start > self.as_of + timedelta(days=30):
                    continue
                eligible = [
                    p
                    for p in patients
                    if datetime.fromisoformat(p.record["created_at"]) < start - timedelta(days=2)
                ]
                if len(eligible) < 2:
                    continue
                chosen = self.rng.sample(eligible, min(len(eligible), self.rng.randint(2, 6)))
                self._group_class(clinic, practitioner, start, chosen)

    def _group_class(
        self, clinic: _Clinic, practitioner: str, start: datetime, attendees: list[_Patient]
    ) -> None:
        rng = self.rng
        end = start + timedelta(minutes=30)
        booked = [
            max(
                datetime.fromisoformat(p.record["created_at"]) + timedelta(hours=1),
                start - timedelta(days=rng.uniform(1, 10)),
            )
            for p in attendees
        ]
        created = min(
            min(booked) - timedelta(hours=rng.uniform(1, 48)), self.as_of - timedelta(days=1)
        )
        group_id = self.ids.new(created)
        self.out["group_appointments"].append(
            {
                "id": group_id,
                "created_at": iso(created),
                "updated_at": iso(created),
                "starts_at": iso(start),
                "ends_at": iso(end),
                "max_attendees": 8,
                "notes": f"{GROUP_CLASS_NAME}: bring a mat",
                "patient_ids": [p.record["id"] for p in attendees],
                "repeat_rule": None,
                "repeats": None,
                "archived_at": None,
                "deleted_at": None,
                "telehealth_url": None,
                "appointment_type": _link(f"appointment_types/{self.type_ids['Follow-up']}"),
                "business": _link(f"businesses/{clinic.business_id}"),
                "practitioner": _link(f"practitioners/{practitioner}"),
                "attendees": _link(f"group_appointments/{group_id}/attendees"),
                "conflicts": _link(f"group_appointments/{group_id}/conflicts"),
                "links": {"self": f"{BASE_PLACEHOLDER}/group_appointments/{group_id}"},
            }
        )
        for patient, booked_at in zip(attendees, booked, strict=True):
            attendee_id = self.ids.new(booked_at)
            arrived, cancelled, updated = None, None, booked_at
            if start <= self.as_of:
                roll = rng.random()
                if roll < 0.08:
                    cancelled = booked_at + (start - booked_at) * rng.uniform(0.2, 0.9)
                    updated = cancelled
                else:
                    arrived = roll >= 0.2  # the rest did not come
                    updated = min(start + timedelta(minutes=rng.uniform(0, 40)), self.as_of)
            ident = patient.identity
            self.out["attendees"].append(
                {
                    "id": attendee_id,
                    "created_at": iso(booked_at),
                    "updated_at": iso(updated),
                    "arrived": arrived,
                    "booking_ip_address": None,
                    "cancellation_note": f"{ident.first_name} rang in" if cancelled else None,
                    "cancellation_reason": 50 if cancelled else None,
                    "cancellation_reason_description": "Other" if cancelled else "",
                    "cancelled_at": iso(cancelled) if cancelled else None,
                    "email_reminder_sent": False,
                    "invoice_status": None,
                    "notes": f"{ident.full_name} has a sore knee",
                    "archived_at": None,
                    "online_booking_policy_accepted": None,
                    "sms_reminder_sent": False,
                    "treatment_note_status": None,
                    "deleted_at": None,
                    "booking": _link(f"bookings/{group_id}"),
                    "patient": _link(f"patients/{patient.record['id']}"),
                    "invoices": _link(f"attendees/{attendee_id}/invoices"),
                    "patient_forms": _link(f"attendees/{attendee_id}/patient_forms"),
                    "links": {"self": f"{BASE_PLACEHOLDER}/attendees/{attendee_id}"},
                }
            )

    def _communications(self) -> None:
        """The clinic's first call, SMS or e-mail after each referral it acted on, the odd
        reply, and appointment reminders. Content and addresses identify the patient: the
        pipeline keeps only the metadata."""
        rng = self.rng
        people = dict(self.identities)
        clinics = {c.key: c for c in self.clinics.values()}
        for fact in self.referral_facts:
            if fact.fate == "not_contacted":
                continue
            ident, clinic = people[fact.patient_id], clinics[fact.clinic]
            hours = 2.5 * math.exp(0.9 * rng.gauss(0, 1))
            sent = self._office_hours(
                clinic,
                datetime.fromisoformat(fact.received_at.replace("Z", "+00:00"))
                + timedelta(hours=max(0.05, hours)),
            )
            if sent > self.as_of:
                continue
            kind = rng.choices(("Phone call", "SMS", "Email"), weights=(5, 3, 2))[0]
            content = f"Hi {ident.first_name}, thanks for your referral - when suits you?"
            self._communication(clinic, fact.patient_id, ident, sent, kind, "Sent", content)
            if kind == "SMS" and rng.random() < 0.3:
                reply = sent + timedelta(minutes=rng.uniform(3, 600))
                if reply <= self.as_of:
                    self._communication(
                        clinic,
                        fact.patient_id,
                        ident,
                        reply,
                        "SMS",
                        "Received",
                        f"Yes please, {ident.full_name}",
                    )
        business_clinic = {c.business_id: c for c in self.clinics.values()}
        for appt in self.out["individual_appointments"]:
            if not appt["sms_reminder_sent"]:
                continue
            clinic = business_clinic[appt["business"]["links"]["self"].rsplit("/", 1)[1]]
            patient_id = appt["patient"]["links"]["self"].rsplit("/", 1)[1]
            sent = datetime.fromisoformat(appt["starts_at"].replace("Z", "+00:00")) - timedelta(
                days=1
            )
            self._communication(
                clinic,
                patient_id,
                people[patient_id],
                sent,
                "SMS",
                "Sent",
                f"Reminder: {people[patient_id].first_name}, see you tomorrow",
                booking=appt["id"],
            )

    def _communication(
        self,
        clinic: _Clinic,
        patient_id: str,
        ident: Identity,
        sent: datetime,
        kind: str,
        direction: str,
        content: str,
        booking: str | None = None,
    ) -> None:
        comm_id = self.ids.new(sent)
        inbound = direction == "Received"
        if kind == "Phone call":
            category, category_code, to = "Memo", 12, ident.phone
        elif kind == "Email":
            category, category_code, to = "Patient Form", 17, ident.email
        elif booking:
            category, category_code, to = "Appointment Reminder", 1, ident.phone_normalized
        else:
            category, category_code = ("Reply from Patient", 8) if inbound else ("SMS Message", 7)
            to = clinic.spec.phone if inbound else ident.phone_normalized
        archived = None
        if self.rng.random() < 0.01:
            archived = min(sent + timedelta(days=self.rng.uniform(1, 30)), self.as_of)
        record = {
            "id": comm_id,
            "created_at": iso(sent),
            "updated_at": iso(archived or sent),
            "archived_at": iso(archived) if archived else None,
            "category": category,
            "category_code": category_code,
            "type": kind,
            "type_code": {"SMS": 1, "Email": 2, "Phone call": 3}[kind],
            "direction_code": 2 if inbound else 1,
            "direction_description": direction,
            "content": content,
            "from": ident.phone_normalized if inbound else clinic.spec.email_reply_to,
            "to": to,
            "patient": _link(f"patients/{patient_id}"),
            "links": {"self": f"{BASE_PLACEHOLDER}/communications/{comm_id}"},
        }
        if kind == "Email":
            record["content_subject"] = f"Your intake form, {ident.first_name}"
        if booking:
            record["booking"] = _link(f"bookings/{booking}")
        self.out["communications"].append(record)

    # --- finishing ------------------------------------------------------------------------

    def _close_case(self, case: dict, episode: _Episode) -> None:
        """Finished episodes are closed some weeks later; a few old ones are archived."""
        if episode.last_end is None or episode.last_status == "booked":
            return
        if episode.last_end > self.as_of - timedelta(days=30) or self.rng.random() >= 0.6:
            return
        closed = self._clamp(episode.last_end + timedelta(days=self.rng.uniform(14, 45)))
        case.update(closed=True, closed_at=iso(closed), updated_at=iso(closed))
        if closed < self.as_of - timedelta(days=180) and self.rng.random() < 0.15:
            archived = self._clamp(closed + timedelta(days=self.rng.uniform(30, 120)))
            case.update(archived_at=iso(archived), updated_at=iso(archived))

    def _finish_patients(self) -> None:
        """Later edits (so incremental syncs see changes) and archiving of long-gone patients."""
        for clinic_patients in self.patients.values():
            for patient in clinic_patients:
                record, rng = patient.record, self.rng
                created = datetime.fromisoformat(record["created_at"])
                updated = created
                if rng.random() < 0.3:  # address, phone or marketing preference changed
                    updated = created + (self.as_of - created) * rng.random()
                idle = patient.last_activity < self.as_of - timedelta(days=270)
                if idle and rng.random() < 0.05:
                    archived = self._clamp(
                        patient.last_activity + timedelta(days=rng.uniform(120, 200))
                    )
                    record["archived_at"] = iso(archived)
                    updated = max(updated, archived)
                record["updated_at"] = iso(updated)

    def _partner_facts(self) -> list[PartnerFacts]:
        counts: dict[str, int] = {}
        for fact in self.referral_facts:
            if fact.partner_id:
                counts[fact.partner_id] = counts.get(fact.partner_id, 0) + 1
        return [
            PartnerFacts(
                spec=partner,
                contact_ids=tuple(
                    self.contact_ids[(partner.id, c.last_name)] for c in partner.contacts
                ),
                start_date=self.partner_starts[partner.id],
                touchpoints=self._touchpoints(partner),
                referrals=counts.get(partner.id, 0),
            )
            for partner in PARTNERS
        ]

    def _touchpoints(self, partner: PartnerSpec) -> tuple[Touchpoint, ...]:
        """The clinic's relationship log: check-ins by tier; none lately for the quiet one."""
        if partner.kind in ("patient", "digital", "other") or not partner.registered:
            return ()
        rng, points = self.rng, []
        start = max(self.partner_starts[partner.id], self.start_date - timedelta(days=90))
        if partner.behaviour == "new":
            first = start + timedelta(days=rng.randrange(0, 5))
            return (
                Touchpoint(first, "visit", rng.choice(TOUCHPOINT_NOTES["visit"])),
                Touchpoint(
                    first + timedelta(days=6),
                    "referral_guide",
                    rng.choice(TOUCHPOINT_NOTES["referral_guide"]),
                ),
            )
        gap = {"A": 60, "B": 110, "C": 240}[partner.tier]
        last = self.end_date - timedelta(days=200 if partner.behaviour == "going_quiet" else 0)
        day = start + timedelta(days=rng.randrange(gap))
        while day <= last:
            kind = rng.choices(("check_in", "talk", "referral_guide"), weights=(6, 1, 2))[0]
            points.append(Touchpoint(day, kind, rng.choice(TOUCHPOINT_NOTES[kind])))
            day += timedelta(days=int(gap * rng.uniform(0.7, 1.3)))
        return tuple(points)


def _link_id(record: dict) -> str:
    """Id of a record that has none of its own (referral sources): its patient's id."""
    return record["links"]["self"].rsplit("/", 2)[-2]


# --- the registry ------------------------------------------------------------------------------


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def _pms_lines(partner: PartnerFacts) -> list[str]:
    spec, src = partner.spec, f"source: {REGISTRY_SOURCE}"
    if spec.contacts:
        return [f"{{{src}, cliniko_contact_id: {_quoted(cid)}}}" for cid in partner.contact_ids]
    if spec.referrer_type:
        return [f"{{{src}, referrer_type: {spec.referrer_type}}}"]
    sub = f", subcategory: {_quoted(spec.subcategory)}" if spec.subcategory else ""
    return [f"{{{src}, referral_source_type: {_quoted(spec.source_type or '')}{sub}}}"]


def registry_yaml(world: World) -> str:
    """The clinic's partner registry for this world (docs/contracts.md, flows/registry.py).

    The PMS-only partners (`registered=False`) are left out on purpose, so the pipeline has
    unregistered referrers to show.
    """
    lines = [
        "# Partner registry of the refnet sandbox clinic group "
        f"(seed {world.seed}, scale {world.scale:g}).",
        "# Generated by flows.sandbox; edit a copy, not this file.",
        "partners:",
    ]
    for partner in world.partners:
        if not partner.registered:
            continue
        spec = partner.spec
        aliases = ", ".join(_quoted(a) for a in spec.aliases)
        lines += [
            f"  - id: {spec.id}",
            f"    name: {_quoted(spec.name)}",
            f"    kind: {spec.kind}",
            f"    tier: {spec.tier}",
            f"    aliases: [{aliases}]",
            f"    start_date: {partner.start_date.isoformat()}",
            "    pms:",
            *(f"      - {line}" for line in _pms_lines(partner)),
        ]
        if partner.touchpoints:
            lines.append("    touchpoints:")
            lines += [
                f"      - {{date: {t.date.isoformat()}, kind: {t.kind}, note: {_quoted(t.note)}}}"
                for t in partner.touchpoints
            ]
    return "\n".join(lines) + "\n"
