"""The cast of the sandbox world: clinics, staff, referral source types and referral partners.

Plain data only; every random choice lives in `world.py`. All people, practices and businesses
are invented. Names are picked so that no patient name (see `people.py`) is a substring of any
professional or partner name, so a leakage test can grep outputs for patient names.
"""

from __future__ import annotations

from dataclasses import dataclass

BEHAVIOURS = ("ordinary", "strong_converter", "slow_booker", "high_dna", "going_quiet", "new")
PARTNER_KINDS = (
    "gp",
    "consultant",
    "allied_health",
    "fitness_sport",
    "workplace_community",
    "patient",
    "digital",
    "other",
)
SUBKINDS = {
    "allied_health": (
        "chiropractor",
        "osteopath",
        "podiatrist",
        "massage_therapist",
        "occupational_therapist",
        "other_physio",
    ),
    "fitness_sport": ("gym", "personal_trainer", "strength_coach", "sports_club"),
    "workplace_community": ("employer", "wellbeing_provider", "community_group"),
    "digital": ("search", "social", "website"),
}


@dataclass(frozen=True)
class ClinicSpec:
    key: str
    business_name: str
    time_zone: str  # Cliniko's human label
    time_zone_identifier: str
    address_1: str
    city: str
    state: str | None
    post_code: str
    country: str
    country_code: str
    phone: str
    email_reply_to: str
    website_address: str
    registration: tuple[str, str] | None
    # (weekday Mon=0, opens, closes) in minutes after local midnight.
    hours: tuple[tuple[int, int, int], ...]
    prices: tuple[str, str]  # initial assessment, follow-up; clinic currency, text decimals
    practitioners: tuple[tuple[str, str, str, str], ...]  # title, first, last, designation
    shared_share: float  # share of account-wide channels' referrals that come to this clinic
    opened: str  # ISO date the business was created in Cliniko


@dataclass(frozen=True)
class ContactSpec:
    title: str
    first_name: str
    last_name: str
    occupation: str
    company_name: str
    type: str = "Doctor"  # Doctor | Standard | 3rd Party Payer
    doctor_type: str | None = None  # general_practitioner | specialist
    share: float = 1.0  # share of the partner's referrals this person sends
    leaves_days_before_end: int | None = None  # archived in Cliniko when they left


@dataclass(frozen=True)
class PartnerSpec:
    id: str
    name: str
    kind: str
    subkind: str | None
    clinic: str | None  # clinic key; None = referrals go to both clinics
    behaviour: str
    tier: str
    volume: int  # referrals over the 18 months at scale 1
    contacts: tuple[ContactSpec, ...] = ()
    source_type: str | None = None  # custom referral source type (by name)
    subcategory: str | None = None
    referrer_type: str | None = None  # "Patient" for word of mouth
    aliases: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()  # how patients write it on the intake form
    registered: bool = True


@dataclass(frozen=True)
class SourceTypeSpec:
    name: str
    referrer_type: str | None = None  # Contact / Patient for Cliniko's built-in types
    created: str = "2019-03-04"
    archived: str | None = None


_WEEKDAYS_UK = tuple((d, 8 * 60, 19 * 60 + 30) for d in range(5))
_WEEKDAYS_AU = tuple((d, 7 * 60, 19 * 60) for d in range(5))

CLINICS: tuple[ClinicSpec, ...] = (
    ClinicSpec(
        key="headingley",
        business_name="Headingley Physio",
        time_zone="London",
        time_zone_identifier="Europe/London",
        address_1="12 Otley Road",
        city="Leeds",
        state="West Yorkshire",
        post_code="LS6 2AA",
        country="United Kingdom",
        country_code="GB",
        phone="0113 496 0100",
        email_reply_to="hello@headingley-physio.example",
        website_address="https://headingley-physio.example",
        registration=None,
        # Saturday mornings, and a small Sunday sports-injury clinic.
        hours=(*_WEEKDAYS_UK, (5, 9 * 60, 13 * 60), (6, 9 * 60, 12 * 60)),
        prices=("75.00", "55.00"),
        practitioners=(
            ("Ms", "Ruth", "Ellison", "Clinical Lead Physiotherapist"),
            ("Mr", "Kwame", "Asante", "Physiotherapist"),
            ("Ms", "Isla", "McBride", "Physiotherapist"),
        ),
        shared_share=0.6,
        opened="2019-03-04",
    ),
    ClinicSpec(
        key="manly",
        business_name="Manly Physio",
        time_zone="Sydney",
        time_zone_identifier="Australia/Sydney",
        address_1="41 Belgrave Street",
        city="Manly",
        state="NSW",
        post_code="2095",
        country="Australia",
        country_code="AU",
        phone="02 7010 0100",
        email_reply_to="hello@manly-physio.example",
        website_address="https://manly-physio.example",
        registration=("ABN", "53 004 085 616"),
        hours=(*_WEEKDAYS_AU, (5, 8 * 60, 12 * 60), (6, 8 * 60, 11 * 60)),
        prices=("120.00", "95.00"),
        practitioners=(
            ("Mr", "Josh", "Tran", "Sports Physiotherapist"),
            ("Ms", "Mia", "Kowalski", "Physiotherapist"),
            ("Mr", "Tane", "Walker", "Physiotherapist"),
        ),
        shared_share=0.4,
        opened="2021-08-16",
    ),
)

# Cliniko's built-in types first (created with the account), then the clinic's own.
SOURCE_TYPES: tuple[SourceTypeSpec, ...] = (
    SourceTypeSpec("Doctor", referrer_type="Contact"),
    SourceTypeSpec("Patient", referrer_type="Patient"),
    SourceTypeSpec("Other"),
    SourceTypeSpec("Gym or fitness", created="2019-05-20"),
    SourceTypeSpec("Sports club", created="2019-05-20"),
    SourceTypeSpec("Employer", created="2020-02-11"),
    SourceTypeSpec("Wellbeing provider", created="2022-09-01"),
    SourceTypeSpec("Community group", created="2022-09-01"),
    SourceTypeSpec("Online search", created="2019-03-04"),
    SourceTypeSpec("Social media", created="2019-03-04"),
    SourceTypeSpec("Our website", created="2019-03-04"),
    SourceTypeSpec("Local advertising", created="2020-02-11"),
    SourceTypeSpec("Walked past", created="2020-02-11"),
    SourceTypeSpec("Yellow Pages", created="2019-03-04", archived="2023-01-09"),
)

# "Other" referral sources: the receptionist's free-text note, no partner behind it.
OTHER_SOURCE_NOTES = (
    "Leaflet at the library",
    "Saw the van",
    "Radio advert",
    "Stall at the summer fair",
    "Not recorded",
)
# Intake answers that name no partner (listed by the pipeline for the clinic to map).
UNMATCHED_ANSWERS = (
    "can't remember",
    "not sure",
    "leaflet through the door",
    "saw a flyer at the library",
    "online",
    "a friend",
    "drove past",
    "my work",
    "been before",
    "radio advert",
    "-",
    "n/a",
)
# Professionals' phone numbers come from the ranges set aside for drama / fiction.
CONTACT_CITY = {"headingley": "Leeds", "manly": "Manly"}


def _gp(title: str, first: str, last: str, company: str, **kw) -> ContactSpec:
    return ContactSpec(
        title,
        first,
        last,
        "General Practitioner",
        company,
        doctor_type="general_practitioner",
        **kw,
    )


def _specialist(title: str, first: str, last: str, occupation: str, company: str) -> ContactSpec:
    return ContactSpec(title, first, last, occupation, company, doctor_type="specialist")


def _allied(title: str, first: str, last: str, occupation: str, company: str) -> ContactSpec:
    return ContactSpec(title, first, last, occupation, company, type="Standard")


PARTNERS: tuple[PartnerSpec, ...] = (
    # --- Headingley: doctors ------------------------------------------------------------
    PartnerSpec(
        "gp-kirkstall-health-centre",
        "Kirkstall Health Centre",
        "gp",
        None,
        "headingley",
        "strong_converter",
        "A",
        110,
        contacts=(
            _gp("Dr", "Adaeze", "Okafor", "Kirkstall Health Centre", share=0.7),
            _gp(
                "Dr",
                "Harpreet",
                "Singh",
                "Kirkstall Health Centre",
                share=0.3,
                leaves_days_before_end=150,
            ),
        ),
        aliases=("kirkstall surgery", "dr okafor", "kirkstall hc"),
        answers=(
            "Kirkstall Health Centre",
            "kirkstall surgery",
            "kirkstal surgery",
            "Dr Okafor",
            "my GP at Kirkstall",
            "kirkstall health center",
        ),
    ),
    PartnerSpec(
        "gp-hyde-park-surgery",
        "Hyde Park Surgery",
        "gp",
        None,
        "headingley",
        "going_quiet",
        "A",
        80,
        contacts=(_gp("Dr", "Thomas", "Whitaker", "Hyde Park Surgery"),),
        aliases=("hyde park gp", "dr whitaker"),
        answers=(
            "Hyde Park Surgery",
            "hyde park surgery",
            "Hyde Pk surgery",
            "dr whittaker",
            "my doctor",
        ),
    ),
    PartnerSpec(
        "gp-leeds-student-medical-practice",
        "Leeds Student Medical Practice",
        "gp",
        None,
        "headingley",
        "ordinary",
        "B",
        60,
        contacts=(_gp("Dr", "Nadia", "Hussain", "Leeds Student Medical Practice"),),
        aliases=("student medical practice", "lsmp"),
        answers=(
            "Leeds Student Medical Practice",
            "student medical practice",
            "uni GP",
            "LSMP",
            "leeds student medical",
        ),
    ),
    PartnerSpec(
        "gp-manor-park-surgery",
        "Manor Park Surgery",
        "gp",
        None,
        "headingley",
        "ordinary",
        "C",
        25,
        contacts=(_gp("Dr", "Gareth", "Lloyd", "Manor Park Surgery"),),
        aliases=("manor park", "bramley surgery"),
        answers=("Manor Park Surgery", "manor park", "Manor Pk GP"),
    ),
    PartnerSpec(
        "consultant-james-hartley",
        "Mr James Hartley, Orthopaedic Surgeon",
        "consultant",
        None,
        "headingley",
        "strong_converter",
        "A",
        45,
        contacts=(
            _specialist(
                "Mr",
                "James",
                "Hartley",
                "Consultant Orthopaedic Surgeon",
                "Leeds Orthopaedic Clinic",
            ),
        ),
        aliases=("mr hartley", "leeds orthopaedic clinic"),
        answers=("Mr Hartley", "mr hartly", "Leeds Orthopaedic Clinic", "my surgeon"),
    ),
    PartnerSpec(
        "consultant-priya-raman",
        "Dr Priya Raman, Sport and Exercise Medicine",
        "consultant",
        None,
        "headingley",
        "ordinary",
        "B",
        30,
        contacts=(
            _specialist(
                "Dr",
                "Priya",
                "Raman",
                "Consultant in Sport and Exercise Medicine",
                "Leeds Sports Medicine Clinic",
            ),
        ),
        aliases=("dr raman", "leeds sports medicine clinic"),
        answers=("Dr Raman", "dr ramen", "sports medicine clinic", "Leeds Sports Medicine"),
    ),
    # --- Headingley: allied health --------------------------------------------------------
    PartnerSpec(
        "allied-headingley-chiropractic",
        "Headingley Chiropractic",
        "allied_health",
        "chiropractor",
        "headingley",
        "ordinary",
        "C",
        20,
        contacts=(_allied("Dr", "Ben", "Carver", "Chiropractor", "Headingley Chiropractic"),),
        aliases=("headingley chiro",),
        answers=("Headingley Chiropractic", "headingley chiro", "my chiropractor"),
    ),
    PartnerSpec(
        "allied-otley-road-osteopaths",
        "Otley Road Osteopaths",
        "allied_health",
        "osteopath",
        "headingley",
        "slow_booker",
        "B",
        30,
        contacts=(_allied("Ms", "Hannah", "Price", "Osteopath", "Otley Road Osteopaths"),),
        aliases=("otley road osteo", "otley rd osteopaths"),
        answers=("Otley Road Osteopaths", "otley rd osteo", "Otley Road Osteopath", "my osteo"),
    ),
    PartnerSpec(
        "allied-step-right-podiatry",
        "Step Right Podiatry",
        "allied_health",
        "podiatrist",
        "headingley",
        "ordinary",
        "C",
        15,
        contacts=(_allied("Mrs", "Karen", "Doyle", "Podiatrist", "Step Right Podiatry"),),
        aliases=("step right",),
        answers=("Step Right Podiatry", "step right", "the podiatrist"),
    ),
    PartnerSpec(
        "allied-kneaded-massage",
        "Kneaded Massage Therapy",
        "allied_health",
        "massage_therapist",
        "headingley",
        "high_dna",
        "C",
        25,
        contacts=(
            _allied("Mr", "Leo", "Marsh", "Sports Massage Therapist", "Kneaded Massage Therapy"),
        ),
        aliases=("kneaded massage", "leo marsh"),
        answers=(
            "Kneaded Massage",
            "kneeded massage",
            "Kneaded Massage Therapy",
            "my massage therapist",
        ),
    ),
    PartnerSpec(
        "allied-leeds-ot-services",
        "Leeds OT Services",
        "allied_health",
        "occupational_therapist",
        "headingley",
        "ordinary",
        "C",
        12,
        contacts=(_allied("Ms", "Sinead", "Walsh", "Occupational Therapist", "Leeds OT Services"),),
        aliases=("leeds ot", "occupational therapy service"),
        answers=("Leeds OT Services", "leeds OT", "occupational therapist"),
    ),
    PartnerSpec(
        "allied-roundhay-physio",
        "Roundhay Physio",
        "allied_health",
        "other_physio",
        "headingley",
        "ordinary",
        "C",
        15,
        contacts=(_allied("Mr", "Marcus", "Bell", "Physiotherapist", "Roundhay Physio"),),
        aliases=("roundhay physiotherapy",),
        answers=("Roundhay Physio", "roundhay physiotherapy", "another physio"),
    ),
    # --- Headingley: fitness, workplace, community, press -------------------------------
    PartnerSpec(
        "fitness-puregym-headingley",
        "PureGym Headingley",
        "fitness_sport",
        "gym",
        "headingley",
        "high_dna",
        "B",
        55,
        source_type="Gym or fitness",
        subcategory="PureGym Headingley",
        aliases=("pure gym", "puregym"),
        answers=(
            "PureGym Headingley",
            "Pure Gym Headingly",
            "pure gym",
            "puregym",
            "the gym on otley road",
        ),
    ),
    PartnerSpec(
        "fitness-kirkstall-strength",
        "Kirkstall Strength & Conditioning",
        "fitness_sport",
        "strength_coach",
        "headingley",
        "ordinary",
        "C",
        20,
        source_type="Gym or fitness",
        subcategory="Kirkstall Strength & Conditioning",
        aliases=("kirkstall strength", "ksc"),
        answers=(
            "Kirkstall Strength & Conditioning",
            "kirkstall strength and conditioning",
            "my strength coach",
            "KSC",
        ),
    ),
    PartnerSpec(
        "fitness-sam-holt-pt",
        "Sam Holt Personal Training",
        "fitness_sport",
        "personal_trainer",
        "headingley",
        "new",
        "C",
        12,
        source_type="Gym or fitness",
        subcategory="Sam Holt PT",
        aliases=("sam holt", "sam holt pt"),
        answers=("Sam Holt PT", "sam holt", "Sam Holt personal trainer", "my PT"),
    ),
    PartnerSpec(
        "fitness-headingley-rufc",
        "Headingley RUFC",
        "fitness_sport",
        "sports_club",
        "headingley",
        "ordinary",
        "B",
        35,
        source_type="Sports club",
        subcategory="Headingley RUFC",
        aliases=("headingley rugby", "headingley rugby club"),
        answers=("Headingley RUFC", "headingley rugby", "rugby club", "Headingly RUFC"),
    ),
    PartnerSpec(
        "fitness-leeds-harriers",
        "Leeds Harriers Running Club",
        "fitness_sport",
        "sports_club",
        "headingley",
        "ordinary",
        "C",
        18,
        source_type="Sports club",
        subcategory="Leeds Harriers",
        aliases=("leeds harriers", "harriers"),
        answers=("Leeds Harriers", "leeds harriers running club", "running club", "harriers"),
    ),
    PartnerSpec(
        "workplace-university-of-leeds",
        "University of Leeds (staff)",
        "workplace_community",
        "employer",
        "headingley",
        "slow_booker",
        "B",
        40,
        source_type="Employer",
        subcategory="University of Leeds",
        aliases=("university of leeds", "uni of leeds", "leeds uni"),
        answers=(
            "University of Leeds",
            "uni of leeds",
            "Leeds Uni occupational health",
            "work (university)",
            "leeds uni",
        ),
    ),
    PartnerSpec(
        "workplace-mindful-works",
        "Mindful Works EAP",
        "workplace_community",
        "wellbeing_provider",
        "headingley",
        "ordinary",
        "C",
        15,
        source_type="Wellbeing provider",
        subcategory="Mindful Works EAP",
        aliases=("mindful works", "eap"),
        answers=("Mindful Works", "mindfulworks", "EAP through work"),
    ),
    PartnerSpec(
        "community-woodhouse-moor-parkrun",
        "Woodhouse Moor parkrun",
        "workplace_community",
        "community_group",
        "headingley",
        "ordinary",
        "C",
        15,
        source_type="Community group",
        subcategory="Woodhouse Moor parkrun",
        aliases=("parkrun", "woodhouse moor parkrun"),
        answers=("parkrun", "Woodhouse Moor parkrun", "park run"),
    ),
    PartnerSpec(
        "other-yorkshire-evening-post",
        "Yorkshire Evening Post advert",
        "other",
        None,
        "headingley",
        "ordinary",
        "C",
        10,
        source_type="Local advertising",
        subcategory="Yorkshire Evening Post",
        aliases=("yorkshire evening post", "yep"),
        answers=("Yorkshire Evening Post", "the YEP", "newspaper advert"),
    ),
    # --- Manly -------------------------------------------------------------------------------
    PartnerSpec(
        "gp-manly-village-medical",
        "Manly Village Medical Centre",
        "gp",
        None,
        "manly",
        "strong_converter",
        "A",
        85,
        contacts=(
            _gp("Dr", "Wei", "Chen", "Manly Village Medical Centre", share=0.6),
            _gp("Dr", "Olivia", "Hart", "Manly Village Medical Centre", share=0.4),
        ),
        aliases=("manly village medical", "dr chen", "manly medical centre"),
        answers=(
            "Manly Village Medical Centre",
            "manly village medical",
            "Dr Chen",
            "manly vilage medical",
            "my GP in Manly",
        ),
    ),
    PartnerSpec(
        "gp-balgowlah-family-practice",
        "Balgowlah Family Practice",
        "gp",
        None,
        "manly",
        "ordinary",
        "B",
        50,
        contacts=(_gp("Dr", "Minh", "Nguyen", "Balgowlah Family Practice"),),
        aliases=("balgowlah gp", "dr nguyen"),
        answers=("Balgowlah Family Practice", "balgowla family practice", "Dr Nguyen", "my GP"),
    ),
    PartnerSpec(
        "consultant-ahmed-siddiqui",
        "Dr Ahmed Siddiqui, Orthopaedic Surgeon",
        "consultant",
        None,
        "manly",
        "ordinary",
        "B",
        30,
        contacts=(
            _specialist(
                "Dr", "Ahmed", "Siddiqui", "Orthopaedic Surgeon", "Northern Beaches Orthopaedics"
            ),
        ),
        aliases=("dr siddiqui", "northern beaches orthopaedics"),
        answers=("Dr Siddiqui", "dr siddiqi", "Northern Beaches Orthopaedics", "my surgeon"),
    ),
    PartnerSpec(
        "allied-manly-chiropractic",
        "Manly Chiropractic",
        "allied_health",
        "chiropractor",
        "manly",
        "ordinary",
        "C",
        15,
        contacts=(_allied("Dr", "Jack", "Morrison", "Chiropractor", "Manly Chiropractic"),),
        aliases=("manly chiro",),
        answers=("Manly Chiropractic", "manly chiro", "chiropractor"),
    ),
    PartnerSpec(
        "allied-freshwater-osteopathy",
        "Freshwater Osteopathy",
        "allied_health",
        "osteopath",
        "manly",
        "ordinary",
        "C",
        12,
        contacts=(_allied("Ms", "Ella", "Jacobs", "Osteopath", "Freshwater Osteopathy"),),
        aliases=("freshwater osteo",),
        answers=("Freshwater Osteopathy", "freshwater osteo", "Freshwater Osteopath"),
    ),
    PartnerSpec(
        "allied-beaches-podiatry",
        "Beaches Podiatry",
        "allied_health",
        "podiatrist",
        "manly",
        "ordinary",
        "C",
        12,
        contacts=(_allied("Ms", "Sophie", "Martin", "Podiatrist", "Beaches Podiatry"),),
        aliases=("beaches podiatrist",),
        answers=("Beaches Podiatry", "beaches podiatrist", "Beach Podiatry"),
    ),
    PartnerSpec(
        "allied-harbour-remedial-massage",
        "Harbour Remedial Massage",
        "allied_health",
        "massage_therapist",
        "manly",
        "ordinary",
        "C",
        15,
        contacts=(
            _allied(
                "Mr", "Kai", "Roberts", "Remedial Massage Therapist", "Harbour Remedial Massage"
            ),
        ),
        aliases=("harbour massage",),
        answers=("Harbour Remedial Massage", "harbour massage", "harbor remedial massage"),
    ),
    PartnerSpec(
        "fitness-f45-manly",
        "F45 Manly",
        "fitness_sport",
        "gym",
        "manly",
        "ordinary",
        "B",
        35,
        source_type="Gym or fitness",
        subcategory="F45 Manly",
        aliases=("f45",),
        answers=("F45 Manly", "f45", "F 45 manly", "my gym"),
    ),
    PartnerSpec(
        "fitness-manly-slsc",
        "Manly Surf Life Saving Club",
        "fitness_sport",
        "sports_club",
        "manly",
        "strong_converter",
        "B",
        30,
        source_type="Sports club",
        subcategory="Manly SLSC",
        aliases=("manly slsc", "manly surf club", "surf club"),
        answers=("Manly SLSC", "manly surf club", "Manly Surf Life Saving Club", "surf club"),
    ),
    PartnerSpec(
        "fitness-ocean-strength-coaching",
        "Ocean Strength Coaching",
        "fitness_sport",
        "strength_coach",
        "manly",
        "ordinary",
        "C",
        10,
        source_type="Gym or fitness",
        subcategory="Ocean Strength Coaching",
        aliases=("ocean strength",),
        answers=("Ocean Strength Coaching", "ocean strength", "my coach"),
    ),
    PartnerSpec(
        "workplace-northern-beaches-council",
        "Northern Beaches Council (staff)",
        "workplace_community",
        "employer",
        "manly",
        "ordinary",
        "C",
        20,
        source_type="Employer",
        subcategory="Northern Beaches Council",
        aliases=("northern beaches council", "the council"),
        answers=("Northern Beaches Council", "council (work)", "northern beaches council hr"),
    ),
    PartnerSpec(
        "community-manly-mens-shed",
        "Manly Men's Shed",
        "workplace_community",
        "community_group",
        "manly",
        "ordinary",
        "C",
        8,
        source_type="Community group",
        subcategory="Manly Men's Shed",
        aliases=("mens shed", "men's shed"),
        answers=("Men's Shed", "manly mens shed", "the shed"),
    ),
    PartnerSpec(
        "other-manly-daily",
        "Manly Daily advert",
        "other",
        None,
        "manly",
        "ordinary",
        "C",
        8,
        source_type="Local advertising",
        subcategory="Manly Daily",
        aliases=("manly daily",),
        answers=("Manly Daily", "the local paper", "manly daily ad"),
    ),
    # --- Both clinics: patients, digital, walk-ins ------------------------------------------
    PartnerSpec(
        "word-of-mouth",
        "Word of mouth",
        "patient",
        None,
        None,
        "ordinary",
        "A",
        170,
        referrer_type="Patient",
        aliases=("friend", "family", "word of mouth", "recommended by a friend"),
        answers=(
            "a friend recommended you",
            "word of mouth",
            "my sister",
            "friend",
            "recommended by a colleague",
            "my partner came here",
            "family",
        ),
    ),
    PartnerSpec(
        "digital-google-search",
        "Google search",
        "digital",
        "search",
        None,
        "ordinary",
        "A",
        140,
        source_type="Online search",
        subcategory="Google",
        aliases=("google", "google search", "searched online", "google maps"),
        answers=(
            "Google",
            "googel",
            "google search",
            "searched online",
            "google maps",
            "internet search",
        ),
    ),
    PartnerSpec(
        "digital-instagram",
        "Instagram",
        "digital",
        "social",
        None,
        "ordinary",
        "B",
        45,
        source_type="Social media",
        subcategory="Instagram",
        aliases=("instagram", "insta"),
        answers=("Instagram", "insta", "instagram ad", "instagramm"),
    ),
    PartnerSpec(
        "digital-facebook",
        "Facebook",
        "digital",
        "social",
        None,
        "ordinary",
        "C",
        30,
        source_type="Social media",
        subcategory="Facebook",
        aliases=("facebook", "fb"),
        answers=("Facebook", "facebok", "FB group", "facebook ad"),
    ),
    PartnerSpec(
        "digital-clinic-website",
        "Clinic website",
        "digital",
        "website",
        None,
        "ordinary",
        "B",
        50,
        source_type="Our website",
        aliases=("website", "your website", "online booking"),
        answers=("your website", "website", "booked online", "web site"),
    ),
    PartnerSpec(
        "other-walk-in",
        "Walk-in / saw the clinic",
        "other",
        None,
        None,
        "ordinary",
        "C",
        25,
        source_type="Walked past",
        aliases=("walked past", "saw the sign", "walk in"),
        answers=("walked past", "saw your sign", "walk in", "live nearby"),
    ),
    # --- In Cliniko, not in the clinic's registry (the pipeline shows them as unregistered) ---
    PartnerSpec(
        "gp-meanwood-group-practice",
        "Meanwood Group Practice",
        "gp",
        None,
        "headingley",
        "ordinary",
        "C",
        15,
        contacts=(_gp("Dr", "Fiona", "Blake", "Meanwood Group Practice"),),
        answers=("Meanwood Group Practice", "meanwood surgery", "Dr Blake"),
        registered=False,
    ),
    PartnerSpec(
        "allied-chapel-allerton-osteopathy",
        "Chapel Allerton Osteopathy",
        "allied_health",
        "osteopath",
        "headingley",
        "ordinary",
        "C",
        8,
        contacts=(_allied("Mr", "Tom", "Reid", "Osteopath", "Chapel Allerton Osteopathy"),),
        answers=("Chapel Allerton Osteopathy", "chapel allerton osteo"),
        registered=False,
    ),
    PartnerSpec(
        "consultant-liam-oconnor",
        "Dr Liam O'Connor, Sports Physician",
        "consultant",
        None,
        "manly",
        "ordinary",
        "C",
        10,
        contacts=(
            _specialist("Dr", "Liam", "O'Connor", "Sports Physician", "Dee Why Sports Medicine"),
        ),
        answers=("Dr O'Connor", "dee why sports medicine", "dr oconnor"),
        registered=False,
    ),
)

# A contact that never refers: an insurer the clinic bills (realistic noise among contacts).
NON_REFERRING_CONTACTS: tuple[tuple[str, ContactSpec], ...] = (
    ("manly", ContactSpec("", "", "", "", "Lionheart Health Insurance", type="3rd Party Payer")),
)

UNKNOWN_VOLUME = 110  # referrals at scale 1 that carry no usable signal at all
TOTAL_REFERRALS = 1500  # at scale 1

TOUCHPOINT_NOTES = {
    "check_in": (
        "Coffee with practice manager",
        "Phone check-in with reception lead",
        "Dropped in with new referral pads",
        "Quarterly catch-up call",
    ),
    "talk": (
        "Lunch-and-learn: managing knee pain",
        "Evening talk: running injuries",
        "Staff talk: desk posture and back pain",
    ),
    "referral_guide": ("Emailed updated referral guide", "Posted referral guide and pads"),
    "visit": ("Visited their premises", "Open evening at the clinic"),
}

COMPLAINTS = (
    "Lower back pain after lifting",
    "Right knee pain when running",
    "Stiff neck and headaches",
    "Shoulder pain reaching overhead",
    "Ankle sprain playing football",
    "Hip pain on stairs",
    "Tennis elbow",
    "Achilles pain",
    "Post-operative knee rehab",
    "Plantar heel pain",
    "Wrist pain at work",
    "Hamstring strain",
)
CASE_NAMES = (
    "Lower back",
    "Right knee",
    "Left knee",
    "Neck",
    "Right shoulder",
    "Left shoulder",
    "Ankle",
    "Hip",
    "Elbow",
    "Achilles",
    "Post-op rehab",
    "Foot",
    "Wrist",
    "Hamstring",
)
