"""Invented patient identities: names, e-mails, phones, addresses, dates of birth.

Nothing here is a real person. Phone numbers come from the ranges regulators keep for drama
(Ofcom: 07700 900000-900999; ACMA: 02 5550 xxxx), e-mails use example.org, and the name pools
avoid words that occur in professional or partner names, place names and time-zone names, so a
test can grep the pipeline's outputs for these values without false alarms. The pools were also
checked against every word in the report site's packages (reports/node_modules): names such as
"Idris" (a programming language in the bundled highlighter) would trip the grep on the site.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

FIRST_NAMES_F = (
    "Amara",
    "Bethan",
    "Carys",
    "Dervla",
    "Eilidh",
    "Ffion",
    "Imogen",
    "Keziah",
    "Lowri",
    "Maisie",
    "Niamh",
    "Rhiannon",
    "Saoirse",
    "Tamsin",
    "Zainab",
    "Aoife",
    "Siobhán",
    "Anjali",
    "Leilani",
    "Marama",
    "Kirra",
    "Tahlia",
    "Ngaio",
    "Yasmin",
    "Esmé",
    "Mairead",
    "Oonagh",
    "Zoë",
    "Ngozi",
    "Aroha",
)
FIRST_NAMES_M = (
    "Alfie",
    "Callum",
    "Declan",
    "Eamon",
    "Fergal",
    "Gethin",
    "Hamish",
    "Iestyn",
    "Jago",
    "Kieran",
    "Lorcan",
    "Malachy",
    "Niall",
    "Oisín",
    "Rhodri",
    "Ruairi",
    "Tadhg",
    "Torin",
    "Wiremu",
    "Zubair",
    "Arjun",
    "Bilal",
    "Cormac",
    "Emeka",
    "Femi",
    "Tariq",
    "Bodhi",
    "Koa",
    "Anwar",
    "Ravi",
)
LAST_NAMES = (
    "Ashworth",
    "Brannigan",
    "Castellanos",
    "Dimitriou",
    "Fairbairn",
    "Gilchrist",
    "Haddad",
    "Jamieson",
    "Kerrigan",
    "Lindqvist",
    "Mahmood",
    "Nakamura",
    "Nyambura",
    "Oduya",
    "Pemberton",
    "Quigley",
    "Radcliffe",
    "Sandoval",
    "Sharples",
    "Sutcliffe",
    "Thackeray",
    "Wainwright",
    "Yilmaz",
    "Zielinski",
    "Abernethy",
    "Bhattacharya",
    "Cavanagh",
    "Donoghue",
    "Efthimiou",
    "Fitzsimons",
    "Gormley",
    "Holroyd",
    "Illingworth",
    "Jorgensen",
    "Kaczmarek",
    "Ormerod",
    "McAllister",
    "Ngata",
    "O'Rourke",
    "Pickersgill",
    "Rautenbach",
    "Sandhu",
    "Tiernan",
    "Uttley",
    "Ackroyd",
    "Boothroyd",
    "Danjuma",
    "Ellwood",
    "Grimshaw",
    "Hepworth",
    "Ibekwe",
    "Quarmby",
    "Núñez",
    "Søndergaard",
    "Lefèvre",
    "Przybylski",
    "Okonkwo",
    "Vukovic",
)
OCCUPATIONS = (
    "Teacher",
    "Nurse",
    "Software developer",
    "Student",
    "Retired",
    "Electrician",
    "Chef",
    "Accountant",
    "Barista",
    "Lecturer",
    "Builder",
    "Paramedic",
    "Designer",
    None,
    None,
)

_UK_STREETS = (
    "Beechwood Grove",
    "Hawthorn Terrace",
    "Larkfield Road",
    "Mayfield Avenue",
    "Oakdene Close",
    "Rosemont Street",
    "Thornfield Drive",
    "Willowbank Road",
    "Ashdene Mount",
    "Birchwood View",
    "Cedar Garth",
    "Elmtree Crescent",
    "Fernbank Walk",
    "Glenholme Place",
    "Hollybush Lane",
)
# (suburb, outward code) around the Headingley clinic.
_UK_AREAS = (
    ("Headingley", "LS6"),
    ("Kirkstall", "LS5"),
    ("Burley", "LS4"),
    ("Hyde Park", "LS6"),
    ("Meanwood", "LS6"),
    ("Far Headingley", "LS16"),
    ("Adel", "LS16"),
    ("Horsforth", "LS18"),
    ("Chapel Allerton", "LS7"),
    ("Bramley", "LS13"),
)
_AU_STREETS = (
    "Banksia Crescent",
    "Coral Tree Lane",
    "Gumnut Street",
    "Jacaranda Avenue",
    "Seaview Parade",
    "Wattle Road",
    "Lilly Pilly Close",
    "Bottlebrush Way",
    "Saltbush Lane",
    "Tea Tree Grove",
)
_AU_AREAS = (
    ("Manly", "2095"),
    ("Fairlight", "2094"),
    ("Balgowlah", "2093"),
    ("Freshwater", "2096"),
    ("Queenscliff", "2096"),
    ("Dee Why", "2099"),
    ("Seaforth", "2092"),
)
# Letters Royal Mail never uses in the inward code of a postcode.
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass(frozen=True)
class Identity:
    """Everything that identifies one invented patient."""

    first_name: str
    last_name: str
    sex: str
    date_of_birth: str
    email: str
    phone: str  # as written
    phone_normalized: str  # international digits, as Cliniko normalises it
    phone_type: str
    address_1: str
    city: str
    state: str | None
    post_code: str
    country: str
    country_code: str
    occupation: str | None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _date_of_birth(rng: random.Random, today: date) -> date:
    # Adults mostly 20-70, a few teenagers and over-80s; never 31 December, 1 or 2 January
    # (1970-01-01 or Go's 2006-01-02 appear in software and would trip a leakage grep).
    age_days = int(365.25 * min(84, max(16, rng.gauss(44, 16))))
    dob = today - timedelta(days=age_days + rng.randrange(365))
    if (dob.month, dob.day) in ((12, 31), (1, 1), (1, 2)):
        dob += timedelta(days=3)
    return dob


class IdentityFactory:
    """Hands out invented identities; phones and e-mails are unique while the pools last."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self._rng = rng
        self._today = today
        self._emails: set[str] = set()
        self._uk_mobiles = [f"07700 900{n:03d}" for n in range(1000)]
        self._au_phones = [f"02 5550 {n:04d}" for n in range(10000)]
        rng.shuffle(self._uk_mobiles)
        rng.shuffle(self._au_phones)

    def new(self, country_code: str) -> Identity:
        rng = self._rng
        sex = rng.choice(("Female", "Male"))
        first = rng.choice(FIRST_NAMES_F if sex == "Female" else FIRST_NAMES_M)
        last = rng.choice(LAST_NAMES)
        if country_code == "GB":
            phone = self._take(self._uk_mobiles, rng)
            normalized, phone_type = "44" + phone.replace(" ", "")[1:], "Mobile"
            suburb, outward = rng.choice(_UK_AREAS)
            inward = f"{rng.randrange(1, 10)}{''.join(rng.choices(_INWARD_LETTERS, k=2))}"
            street, post_code = rng.choice(_UK_STREETS), f"{outward} {inward}"
            city, state, country = "Leeds", "West Yorkshire", "United Kingdom"
        else:
            phone = self._take(self._au_phones, rng)
            normalized, phone_type = "61" + phone.replace(" ", "")[1:], "Home"
            suburb, post_code = rng.choice(_AU_AREAS)
            street, city, state, country = rng.choice(_AU_STREETS), suburb, "NSW", "Australia"
        return Identity(
            first_name=first,
            last_name=last,
            sex=sex,
            date_of_birth=_date_of_birth(rng, self._today).isoformat(),
            email=self._email(first, last),
            phone=phone,
            phone_normalized=normalized,
            phone_type=phone_type,
            address_1=f"{rng.randrange(1, 180)} {street}",
            city=city,
            state=state,
            post_code=post_code,
            country=country,
            country_code=country_code,
            occupation=rng.choice(OCCUPATIONS),
        )

    @staticmethod
    def _take(pool: list[str], rng: random.Random) -> str:
        # Unique until the pool runs dry (only at scales far above 1), then reused.
        return pool.pop() if len(pool) > 1 else rng.choice(pool)

    def _email(self, first: str, last: str) -> str:
        base = f"{_ascii_slug(first)}.{_ascii_slug(last)}"
        n = 0
        while True:
            candidate = f"{base}{n or ''}@example.org"
            if candidate not in self._emails:
                self._emails.add(candidate)
                return candidate
            n += 1
