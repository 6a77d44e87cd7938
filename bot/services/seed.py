"""Demo data: realistic Turkish customers, loyalty ledgers, rewards, orders, tickets and survey answers.

Idempotent: if the demo customer (MN100001) exists, nothing is written. Random choices come from
``random.Random(random_seed)``, dates are relative to now, so a fresh demo always has points expiring soon,
a shipped order, an order delivered three days ago and a birthday coupon for the demo customer (born on the
15th of the current month).

Demo customer: MN100001 Ayşe Yılmaz, +905321234567, born 1990-<current month>-15, Gold tier;
orders SP1000001 (shipped, Yurtiçi Kargo) and SP1000002 (delivered 3 days ago, Aras Kargo).
"""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import (
    Customer,
    LoyaltyAccount,
    Order,
    PointLedgerEntry,
    Reward,
    SurveyResponse,
    Ticket,
    TicketEvent,
    TicketNote,
)
from bot.services import tickets as tickets_service
from bot.services.loyalty import local_today, tier_for
from bot.services.surveys import LOW_SCORE_MAX, RECOVERY_CATEGORY, recovery_description
from bot.services.tx import transaction, utcnow

DEMO_CUSTOMER_NUMBER = "MN100001"
DEMO_PHONE = "+905321234567"
DEMO_SHIPPED_ORDER = "SP1000001"
DEMO_DELIVERED_ORDER = "SP1000002"
#: Points are valid for a year after they are earned.
POINTS_VALIDITY_DAYS = 365

FIRST_NAMES_FEMALE = (
    "Ayşe",
    "Fatma",
    "Zeynep",
    "Elif",
    "Emine",
    "Merve",
    "Büşra",
    "Esra",
    "Selin",
    "Deniz",
    "Ece",
    "Gizem",
    "Özlem",
    "Şeyma",
    "İrem",
    "Melis",
    "Hülya",
    "Gül",
    "Nur",
    "Derya",
    "Sibel",
    "Yasemin",
    "Ceren",
    "Cansu",
)
FIRST_NAMES_MALE = (
    "Mehmet",
    "Mustafa",
    "Ahmet",
    "Ali",
    "Hüseyin",
    "Hasan",
    "İbrahim",
    "Murat",
    "Emre",
    "Burak",
    "Can",
    "Oğuz",
    "Serkan",
    "Kemal",
    "Yusuf",
    "Ömer",
    "Çağrı",
    "Tolga",
    "Barış",
    "Onur",
    "Eren",
    "Umut",
    "Kerem",
    "Şahin",
)
LAST_NAMES = (
    "Yılmaz",
    "Kaya",
    "Demir",
    "Şahin",
    "Çelik",
    "Yıldız",
    "Yıldırım",
    "Öztürk",
    "Aydın",
    "Özdemir",
    "Arslan",
    "Doğan",
    "Kılıç",
    "Aslan",
    "Çetin",
    "Kara",
    "Koç",
    "Kurt",
    "Özkan",
    "Şimşek",
    "Polat",
    "Erdoğan",
    "Güneş",
    "Aksoy",
    "Korkmaz",
    "Bulut",
    "Tekin",
    "Ünal",
    "Güler",
    "Acar",
)
MOBILE_PREFIXES = (
    "530",
    "531",
    "532",
    "533",
    "535",
    "536",
    "537",
    "538",
    "539",
    "541",
    "542",
    "543",
    "544",
    "545",
    "546",
    "505",
    "506",
    "507",
    "551",
    "552",
    "553",
    "554",
    "555",
    "559",
)
CARRIERS = ("Yurtiçi Kargo", "Aras Kargo", "MNG Kargo", "PTT Kargo")
ORDER_STATUSES = ("placed", "preparing", "shipped", "out_for_delivery", "delivered", "cancelled", "returned")

#: (code, name_tr, name_en, cost, stock, state) — state: "ok", "expired".
REWARDS = (
    ("KARGO", "Ücretsiz kargo", "Free shipping", 300, None, "ok"),
    ("KAHVE", "Kafede ücretsiz kahve", "Free coffee at the café", 250, None, "ok"),
    ("IND50", "50 TL indirim çeki", "50 TL discount voucher", 500, None, "ok"),
    ("BEZCANTA", "Bez çanta", "Tote bag", 600, 40, "ok"),
    ("KUPA", "Kahve kupası", "Coffee mug", 750, 25, "ok"),
    ("IND100", "100 TL indirim çeki", "100 TL discount voucher", 900, None, "ok"),
    ("SEMSIYE", "Şemsiye", "Umbrella", 1200, 0, "ok"),
    ("TERMOS", "Termos", "Thermos flask", 1500, 10, "ok"),
    ("YILBASI", "Yılbaşı hediye kutusu", "New Year gift box", 1800, 15, "expired"),
    ("IND250", "250 TL indirim çeki", "250 TL discount voucher", 2000, None, "ok"),
)

#: Target lifetime points per tier for generated customers (inclusive ranges).
TIER_RANGES = {"Bronze": (100, 950), "Silver": (1000, 4900), "Gold": (5000, 14500), "Platinum": (15000, 32000)}


@dataclass(frozen=True)
class SeedReport:
    created: bool
    customers: int = 0
    rewards: int = 0
    orders: int = 0
    tickets: int = 0
    survey_responses: int = 0
    demo_customer: dict[str, str] = field(default_factory=dict)


def demo_birth_date(today: date | None = None) -> date:
    """1990-<current month>-15: the demo customer always has a birthday this month (birthday coupon demo)."""
    today = today or local_today()
    return date(1990, today.month, 15)


def seed_demo_data(session: Session | None = None, customers: int = 50, random_seed: int = 42) -> SeedReport:
    """Insert the demo data set (no-op if already seeded). Uses ``session`` if given, else its own transaction."""
    if session is None:
        with transaction(write=True) as own:
            return seed_demo_data(own, customers=customers, random_seed=random_seed)
    if session.scalars(select(Customer.id).where(Customer.customer_number == DEMO_CUSTOMER_NUMBER)).first():
        return SeedReport(created=False, demo_customer=_demo_summary())
    return _Seeder(session, random.Random(random_seed), max(1, customers)).run()


def _demo_summary() -> dict[str, str]:
    return {
        "customer_number": DEMO_CUSTOMER_NUMBER,
        "name": "Ayşe Yılmaz",
        "phone": DEMO_PHONE,
        "birth_date": demo_birth_date().isoformat(),
        "tier": "Gold",
        "orders": f"{DEMO_SHIPPED_ORDER} (shipped), {DEMO_DELIVERED_ORDER} (delivered 3 days ago)",
    }


class _Seeder:
    def __init__(self, session: Session, rng: random.Random, customers: int) -> None:
        self.session = session
        self.rng = rng
        self.customer_count = customers
        self.now = utcnow()
        self.today = local_today()
        self.phones: set[str] = {DEMO_PHONE}
        self.order_counter = 1000000
        self.orders = 0
        self.tickets = 0
        self.surveys = 0

    def run(self) -> SeedReport:
        rewards = self._rewards()
        demo = self._demo_customer()
        people = [demo]
        tiers = ["Bronze", "Silver", "Gold", "Platinum"]
        for index in range(2, self.customer_count + 1):
            people.append(self._customer(index, tiers[index % len(tiers)]))
        self.session.flush()
        for customer in people[1:]:
            for _ in range(self.rng.randint(0, 3)):
                self._order(customer, self.rng.choice(ORDER_STATUSES))
        # Every status at least once, whatever the random draw.
        for status in ORDER_STATUSES:
            self._order(self.rng.choice(people[1:]) if len(people) > 1 else demo, status)
        self._tickets(people)
        self._surveys(people)
        self.session.flush()
        return SeedReport(
            created=True,
            customers=len(people),
            rewards=len(rewards),
            orders=self.orders,
            tickets=self.tickets,
            survey_responses=self.surveys,
            demo_customer=_demo_summary(),
        )

    # --- people & points ---------------------------------------------------------------------------------------

    def _phone(self) -> str:
        while True:
            phone = "+90" + self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**7):07d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def _new_customer(self, number: int, first: str, last: str, phone: str, birth: date, language: str) -> Customer:
        ascii_name = (first + "." + last).translate(str.maketrans("çğıöşüÇĞİÖŞÜ", "cgiosuCGIOSU")).lower()
        checkin = self.rng.random() < 0.7
        marketing = self.rng.random() < 0.4
        joined = self.now - timedelta(days=self.rng.randint(400, 1500))
        customer = Customer(
            customer_number=f"MN{number:06d}",
            first_name=first,
            last_name=last,
            phone=phone,
            email=f"{ascii_name}{number % 100}@example.com",
            birth_date=birth,
            preferred_language=language,
            timezone="Europe/Istanbul",
            checkin_consent=checkin,
            checkin_consent_at=joined if checkin else None,
            checkin_consent_source="signup_form" if checkin else None,
            marketing_consent=marketing,
            marketing_consent_at=joined if marketing else None,
            marketing_consent_source="signup_form" if marketing else None,
            created_at=joined,
        )
        self.session.add(customer)
        self.session.flush()
        return customer

    def _demo_customer(self) -> Customer:
        customer = self._new_customer(100001, "Ayşe", "Yılmaz", DEMO_PHONE, demo_birth_date(self.today), "tr")
        customer.email = "ayse.yilmaz@example.com"
        customer.checkin_consent, customer.checkin_consent_at = True, customer.created_at
        customer.checkin_consent_source = "signup_form"
        # Lots (points, days ago earned): the 1200-point lot expires in 13 days; 500 redeemed points consume it
        # first (FIFO by expiry), so 700 points show as "expiring soon". Lifetime 7450 = Gold.
        self._ledger(customer, [(3000, 300), (1200, 352), (1500, 100), (1750, 20)], redeemed=[(500, 200)])
        self._order(customer, "shipped", number=DEMO_SHIPPED_ORDER, carrier="Yurtiçi Kargo", shipped_days_ago=1)
        self._order(customer, "delivered", number=DEMO_DELIVERED_ORDER, carrier="Aras Kargo", delivered_days_ago=3)
        self._order(customer, "delivered", carrier="MNG Kargo", delivered_days_ago=40)
        return customer

    def _customer(self, index: int, tier: str) -> Customer:
        female = self.rng.random() < 0.5
        first = self.rng.choice(FIRST_NAMES_FEMALE if female else FIRST_NAMES_MALE)
        last = self.rng.choice(LAST_NAMES)
        year = self.rng.randint(1955, 2005)
        month = self.rng.randint(1, 12)
        birth = date(year, month, self.rng.randint(1, calendar.monthrange(year, month)[1]))
        language = "en" if self.rng.random() < 0.12 else "tr"
        customer = self._new_customer(100000 + index, first, last, self._phone(), birth, language)
        low, high = TIER_RANGES[tier]
        lifetime = self.rng.randint(low, high) // 10 * 10
        lots: list[tuple[int, int]] = []
        left = lifetime
        while left > 0:
            points = min(left, self.rng.choice((100, 150, 250, 400, 600, 1000, 2500)))
            lots.append((points, self.rng.randint(1, 364)))
            left -= points
        if self.rng.random() < 0.35:
            # Make one lot expire within the warning window.
            points, _ = lots[0]
            lots[0] = (points, self.rng.randint(336, 362))
        redeemed = []
        if lifetime >= 600 and self.rng.random() < 0.5:
            redeemed.append((self.rng.randint(1, lifetime // 300) * 100, self.rng.randint(1, 200)))
        self._ledger(customer, lots, redeemed=redeemed)
        return customer

    def _ledger(self, customer: Customer, lots: list[tuple[int, int]], *, redeemed: list[tuple[int, int]]) -> None:
        """Ledger rows plus an account whose balance is exactly their sum (the loyalty invariant)."""
        account = LoyaltyAccount(
            customer_id=customer.id,
            balance=0,
            lifetime_points=0,
            tier="Bronze",
            created_at=customer.created_at,
            updated_at=self.now,
        )
        self.session.add(account)
        self.session.flush()
        total = 0
        lifetime = 0
        for number, (points, days_ago) in enumerate(lots):
            earned = self.now - timedelta(days=days_ago)
            self.session.add(
                PointLedgerEntry(
                    account_id=account.id,
                    kind="earn",
                    points=points,
                    reason="Alışveriş puanı",
                    idempotency_key=f"seed:{customer.customer_number}:earn:{number}",
                    expires_at=(earned + timedelta(days=POINTS_VALIDITY_DAYS)).date(),
                    created_at=earned,
                )
            )
            total += points
            lifetime += points
        for number, (points, days_ago) in enumerate(redeemed):
            points = min(points, total)
            if points <= 0:
                continue
            self.session.add(
                PointLedgerEntry(
                    account_id=account.id,
                    kind="redeem",
                    points=-points,
                    reason="Ödül kullanımı",
                    idempotency_key=f"seed:{customer.customer_number}:redeem:{number}",
                    expires_at=None,
                    created_at=self.now - timedelta(days=days_ago),
                )
            )
            total -= points
        account.balance = total
        account.lifetime_points = lifetime
        account.tier = tier_for(lifetime)[0]

    # --- catalogue & orders ------------------------------------------------------------------------------------

    def _rewards(self) -> list[Reward]:
        rewards = []
        for code, name_tr, name_en, cost, stock, state in REWARDS:
            valid_until = self.now - timedelta(days=20) if state == "expired" else None
            valid_from = self.now - timedelta(days=120)
            reward = Reward(
                code=code,
                name_tr=name_tr,
                name_en=name_en,
                cost=cost,
                stock=stock,
                valid_from=valid_from,
                valid_until=valid_until,
                active=True,
                created_at=valid_from,
            )
            self.session.add(reward)
            rewards.append(reward)
        return rewards

    def _tracking(self, carrier: str) -> str:
        prefix = {"Yurtiçi Kargo": "YK", "Aras Kargo": "AR", "MNG Kargo": "MN", "PTT Kargo": "PT"}[carrier]
        return f"{prefix}{self.rng.randrange(10**10):010d}"

    def _order(
        self,
        customer: Customer,
        status: str,
        *,
        number: str | None = None,
        carrier: str | None = None,
        shipped_days_ago: int | None = None,
        delivered_days_ago: int | None = None,
    ) -> Order:
        if number is None:
            self.order_counter += 1
            while self.order_counter in (1000001, 1000002):
                self.order_counter += 1
            number = f"SP{self.order_counter:07d}"
        carrier = carrier or self.rng.choice(CARRIERS)
        placed = self.now - timedelta(days=self.rng.randint(1, 4), hours=self.rng.randint(0, 23))
        shipped = delivered = None
        estimated: date | None = None
        if delivered_days_ago is not None:
            delivered = self.now - timedelta(days=delivered_days_ago, hours=5)
            shipped = delivered - timedelta(days=2)
            placed = shipped - timedelta(days=1)
        elif shipped_days_ago is not None:
            shipped = self.now - timedelta(days=shipped_days_ago, hours=3)
            placed = shipped - timedelta(days=1)
        elif status in ("shipped", "out_for_delivery"):
            shipped = placed + timedelta(days=1)
        elif status in ("delivered", "returned"):
            delivered = self.now - timedelta(days=self.rng.randint(1, 30))
            shipped = delivered - timedelta(days=self.rng.randint(1, 3))
            placed = shipped - timedelta(days=1)
        if status in ("placed", "preparing", "shipped", "out_for_delivery"):
            base = (shipped or placed).date()
            estimated = base + timedelta(days=0 if status == "out_for_delivery" else 3)
        order = Order(
            number=number,
            customer_id=customer.id,
            status=status,
            carrier=carrier if shipped else None,
            tracking_code=self._tracking(carrier) if shipped else None,
            total=Decimal(self.rng.randrange(9990, 459990, 500)) / 100,
            currency="TRY",
            placed_at=placed,
            shipped_at=shipped,
            delivered_at=delivered,
            estimated_delivery=estimated,
            return_window_days=14,
            refund_status=self.rng.choice(("pending", "refunded")) if status == "returned" else None,
        )
        self.session.add(order)
        self.orders += 1
        return order

    # --- tickets & surveys -------------------------------------------------------------------------------------

    def _tickets(self, people: list[Customer]) -> None:
        demo = people[0]
        samples = [
            (demo, "delivery", "SP1000002 numaralı siparişim bir gün geç geldi, kutu biraz ezilmişti.", "resolved"),
            (None, "website", "Mobil uygulamada ödeme sayfası açılmıyor.", "open"),
            (
                self._pick(people),
                "refund",
                "İade ettiğim ürünün parası 10 gündür hesabıma yatmadı, acil dönüş bekliyorum.",
                "in_progress",
            ),
            (self._pick(people), "product", "Aldığım termosun kapağı sızdırıyor.", "open"),
            (self._pick(people), "staff", "Mağazadaki kasiyer çok ilgiliydi ama sıra çok uzundu.", "closed"),
            (self._pick(people), "loyalty", "Son alışverişimin puanları hesabıma yüklenmedi.", "open"),
        ]
        for number, (customer, category, text, status) in enumerate(samples):
            created = self.now - timedelta(days=self.rng.randint(1, 12), hours=self.rng.randint(0, 20))
            ticket = tickets_service.create_ticket_in(
                self.session,
                customer_id=customer.id if customer else None,
                category=category,
                description=text,
                order_number="SP1000002" if customer is demo else None,
                channel=self.rng.choice(("telegram", "web")),
                conversation_id=None,
                language=customer.preferred_language if customer else "tr",
                idempotency_key=f"seed:ticket:{number}",
                actor="customer",
                now=created,
            )
            self._advance(ticket, status, created)
            self.tickets += 1

    def _pick(self, people: list[Customer]) -> Customer:
        return self.rng.choice(people[1:]) if len(people) > 1 else people[0]

    def _advance(self, ticket: Ticket, status: str, created: datetime) -> None:
        moments = {"in_progress": 3, "resolved": 20, "closed": 30}
        steps = {
            "open": [],
            "in_progress": ["in_progress"],
            "resolved": ["in_progress", "resolved"],
            "closed": ["in_progress", "resolved", "closed"],
        }[status]
        previous = "open"
        for step in steps:
            at = created + timedelta(hours=moments[step])
            self.session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    actor="destek.ekibi",
                    field="status",
                    old_value=previous,
                    new_value=step,
                    created_at=at,
                )
            )
            if step == "in_progress":
                ticket.first_response_at = at
                ticket.assignee = "destek.ekibi"
                self.session.add(
                    TicketNote(
                        ticket_id=ticket.id,
                        author="destek.ekibi",
                        internal=False,
                        body="Talebinizi inceliyoruz, en kısa sürede dönüş yapacağız.",
                        created_at=at,
                    )
                )
            if step == "resolved":
                ticket.resolved_at = at
            if step == "closed":
                ticket.closed_at = at
            ticket.status = step
            ticket.updated_at = at
            previous = step

    def _surveys(self, people: list[Customer]) -> None:
        comments = {
            1: "Kargo çok geç geldi ve kimse bilgi vermedi.",
            2: "Ürün beklediğim gibi değildi.",
            3: None,
            4: "Genel olarak memnunum.",
            5: "Çok hızlı teslimat, teşekkürler!",
        }
        for number in range(12):
            customer = self._pick(people)
            kind = "csat" if number % 3 else "nps"
            score = self.rng.randint(1, 5) if kind == "csat" else self.rng.randint(0, 10)
            created = self.now - timedelta(days=self.rng.randint(1, 25))
            row = SurveyResponse(
                kind=kind,
                score=score,
                comment=comments[score] if kind == "csat" else None,
                campaign_id=None,
                outbox_id=None,
                ticket_ref=None,
                conversation_id=None,
                customer_id=customer.id,
                channel=self.rng.choice(("telegram", "web")),
                language=customer.preferred_language,
                idempotency_key=f"seed:survey:{number}",
                created_at=created,
            )
            self.session.add(row)
            self.session.flush()
            if score <= LOW_SCORE_MAX[kind]:
                ticket = tickets_service.create_ticket_in(
                    self.session,
                    customer_id=customer.id,
                    category=RECOVERY_CATEGORY[kind],
                    description=recovery_description(kind, score, row.comment),
                    order_number=None,
                    channel=row.channel,
                    conversation_id=None,
                    language=row.language,
                    idempotency_key=f"survey-recovery:{row.id}",
                    priority="high",
                    source="survey",
                    actor="system",
                    now=created,
                )
                row.recovery_ticket_ref = ticket.ref
                self.tickets += 1
            self.surveys += 1
