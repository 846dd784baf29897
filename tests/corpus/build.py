"""The corpus datasets and their truth (see the package docstring). Each dataset is a function of
(rows, seed) that writes rows through ``Truth``, which records who each value is about and which cells hold
which entity class, so the counts and labels can never drift from the data."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyarrow as pa
from export_gate.model import CATEGORIES, Counts
from faker import Faker
from stdnum import luhn

#: The export date every dataset is scanned as of (who is a child under 14 depends on it).
AS_OF = date(2026, 6, 30)
#: Entity classes the truth labels, and the detector entities that count as each (a diagnosis column may be
#: found as a medical term, an ICD-10 code or health data as a whole: all are "health").
CLASSES: dict[str, frozenset[str]] = {
    "name": frozenset({"PERSON"}),
    "phone": frozenset({"CN_MOBILE", "PHONE_NUMBER", "INTL_PHONE"}),
    "resident_id": frozenset({"CN_RESIDENT_ID"}),
    "passport": frozenset({"CN_PASSPORT"}),
    "email": frozenset({"EMAIL_ADDRESS"}),
    "address": frozenset({"CN_ADDRESS"}),
    "birth_date": frozenset({"BIRTH_DATE"}),
    "bank_card": frozenset({"BANK_CARD", "ACCOUNT_NUMBER"}),
    "health": frozenset({"MEDICAL_TERM", "HEALTH_RECORD", "ICD10_CODE", "HEALTH_STATEMENT"}),
    "location": frozenset({"COORDINATE"}),
}
#: Diagnoses as hospitals write them: (Chinese name in ICD-10 wording, English name, ICD-10 code).
DIAGNOSES = (
    ("2型糖尿病", "type 2 diabetes mellitus", "E11.9"),
    ("原发性高血压", "essential hypertension", "I10"),
    ("急性上呼吸道感染", "acute upper respiratory infection", "J06.9"),
    ("人类免疫缺陷病毒病", "HIV disease", "B24"),
    ("冠状动脉粥样硬化性心脏病", "atherosclerotic heart disease", "I25.1"),
    ("慢性阻塞性肺疾病", "chronic obstructive pulmonary disease", "J44.9"),
    ("支气管哮喘", "asthma", "J45.9"),
    ("抑郁发作", "depressive episode", "F32.9"),
    ("慢性肾脏病", "chronic kidney disease", "N18.9"),
    ("类风湿性关节炎", "rheumatoid arthritis", "M06.9"),
    ("胃食管反流病", "gastro-oesophageal reflux disease", "K21.9"),
    ("缺铁性贫血", "iron deficiency anaemia", "D50.9"),
)
#: Given names of ethnic-minority citizens and transliterations, written with the middle dot.
DOTTED_NAMES = ("阿依古丽·买买提", "迪丽娜尔·艾力", "扎西·次仁", "买买提·吐尔逊", "约翰·史密斯", "玛丽亚·加西亚")


@dataclass
class Truth:
    """Who a dataset is about. ``people[pid]``: the sensitive categories the export holds about person
    ``pid`` (empty: personal only); ``labels[column][class]``: the rows whose cell holds that entity class."""

    people: dict[int, set[str]] = field(default_factory=dict)
    labels: dict[str, dict[str, set[int]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))

    def about(self, person: Person, *categories: str) -> None:
        self.people.setdefault(person.pid, set()).update(categories)

    def label(self, column: str, cls: str, row: int) -> None:
        assert cls in CLASSES, cls
        self.labels[column][cls].add(row)

    def counts(self) -> Counts:
        per = dict.fromkeys(CATEGORIES, 0)
        for categories in self.people.values():
            for name in categories:
                per[name] += 1
        return Counts(len(self.people), sum(1 for c in self.people.values() if c), per)


@dataclass(frozen=True)
class Dataset:
    name: str
    table: pa.Table
    subject_keys: tuple[str, ...]
    truth: Truth


@dataclass
class Person:
    """A natural person of the corpus; ``mobile`` is as dialled from abroad (+86..., +886..., +1...)."""

    pid: int
    name: str
    mobile: str
    birth: date
    resident_id: str | None
    email: str
    address: str
    card: str

    @property
    def minor(self) -> bool:
        return _years(self.birth, AS_OF) < 14


def _years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class People:
    """Makes persons with Faker: mainland (zh_CN) by default, some from Taiwan (zh_TW), Hong Kong and the US."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.cn, self.tw, self.us = Faker("zh_CN"), Faker("zh_TW"), Faker("en_US")
        for i, fake in enumerate((self.cn, self.tw, self.us)):
            fake.seed_instance(seed * 10 + i)
        self.next_pid = 0

    def _pid(self) -> int:
        self.next_pid += 1
        return self.next_pid

    def mainland(self, min_age: int = 18, max_age: int = 85) -> Person:
        fake = self.cn
        ssn = fake.ssn(min_age=min_age, max_age=max_age)
        born = date(int(ssn[6:10]), int(ssn[10:12]), int(ssn[12:14]))
        name = self.rng.choice(DOTTED_NAMES) if self.rng.random() < 0.02 else fake.name()
        mobile = "+86" + fake.phone_number()
        pid = self._pid()
        return Person(pid, name, mobile, born, ssn, self._email(fake, pid), fake.address(), self._card())

    def foreign(self) -> Person:
        """A person from Taiwan, Hong Kong or the US: no mainland resident ID."""
        where = self.rng.choice(("tw", "hk", "us"))
        if where == "us":
            name, mobile = self.us.name(), "+1" + self.us.numerify("2##5550###")
        elif where == "tw":
            name, mobile = self.tw.name(), "+8869" + self.tw.numerify("########")
        else:
            name, mobile = self.cn.name(), "+852" + self.rng.choice("569") + self.cn.numerify("#######")
        born = self.us.date_of_birth(minimum_age=18, maximum_age=80)
        pid = self._pid()
        return Person(pid, name, mobile, born, None, self._email(self.us, pid), self.tw.address(), self._card())

    @staticmethod
    def _email(fake: Faker, pid: int) -> str:
        """Faker's e-mail with the person's number in the mailbox: Faker draws mailboxes from a few thousand
        names, so two of its people share an address far more often than two real people do (an address is
        one person's, which is why it links rows)."""
        mailbox, domain = fake.email().split("@")
        return f"{mailbox}{pid}@{domain}"

    def child(self) -> Person:
        return self.mainland(min_age=1, max_age=13)

    def _card(self) -> str:
        return self.cn.credit_card_number(card_type=self.rng.choice(("unionpay", "visa", "mastercard")))


# --- notations a real export writes ---------------------------------------------------------------------------


def phone_notation(mobile: str, rng: random.Random) -> str:
    """The mobile as people type it: bare, grouped with spaces, dashes, dots or parentheses, or with +86."""
    if not mobile.startswith("+86"):
        country, rest = (mobile[:4], mobile[4:]) if mobile.startswith(("+886", "+852")) else (mobile[:2], mobile[2:])
        return rng.choice((f"{country} {rest}", f"{country}-{rest[:3]}-{rest[3:6]}-{rest[6:]}", f"{country}{rest}"))
    m = mobile[3:]
    return rng.choice(
        (
            m,
            m,
            m,
            f"{m[:3]} {m[3:7]} {m[7:]}",
            f"{m[:3]}-{m[3:7]}-{m[7:]}",
            f"+86 {m}",
            f"({m[:3]}){m[3:7]}-{m[7:]}",
            f"{m[:3]}.{m[3:7]}.{m[7:]}",
        )
    )


def id_notation(resident_id: str, rng: random.Random) -> str:
    """A resident ID as typed: mostly plain, sometimes in 6-8-4 groups, the check X sometimes lower case."""
    choice = rng.random()
    if choice < 0.1:
        return f"{resident_id[:6]} {resident_id[6:14]} {resident_id[14:]}"
    return resident_id.lower() if choice < 0.2 else resident_id


def card_notation(card: str, rng: random.Random) -> str:
    if rng.random() < 0.3 and len(card) == 16:
        return " ".join(card[i : i + 4] for i in range(0, 16, 4))
    return card


def random_digits(rng: random.Random, length: int, first: str = "") -> str:
    """An order, tracking or claim number: random digits, so about one in ten passes the Luhn check."""
    return first + "".join(rng.choice("0123456789") for _ in range(length - len(first)))


def luhn_passing(rng: random.Random, length: int) -> str:
    """A number that passes Luhn by construction (IMEI-like device serials)."""
    body = random_digits(rng, length - 1, "86")
    return body + luhn.calc_check_digit(body)


# --- the datasets ----------------------------------------------------------------------------------------------


def customers(rows: int, seed: int) -> Dataset:
    """Customer master with pinyin-initial column names and an emergency contact (a second person) per row."""
    pool, truth, rng = People(seed), Truth(), random.Random(seed)
    contacts = [pool.mainland() for _ in range(rows // 2)]  # families share a contact: fewer contacts than rows
    columns: dict[str, list] = defaultdict(list)
    for row in range(rows):
        p = pool.mainland() if rng.random() < 0.9 else pool.foreign()
        truth.about(p)
        columns["cust_id"].append(f"C{100000 + row}")
        columns["xm"].append(p.name)
        truth.label("xm", "name", row)
        columns["sjhm"].append(phone_notation(p.mobile, rng))
        truth.label("sjhm", "phone", row)
        has_id = p.resident_id is not None and rng.random() < 0.85
        columns["sfzh"].append(id_notation(p.resident_id, rng) if has_id else None)
        if has_id:
            truth.label("sfzh", "resident_id", row)
        columns["csrq"].append(p.birth)
        truth.label("csrq", "birth_date", row)
        columns["dz"].append(p.address)
        truth.label("dz", "address", row)
        columns["email"].append(p.email)
        truth.label("email", "email", row)
        has_card = rng.random() < 0.6
        columns["yhkh"].append(card_notation(p.card, rng) if has_card else None)
        if has_card:
            truth.label("yhkh", "bank_card", row)
            truth.about(p, "financial_account")
        columns["vip_level"].append(rng.choice(("普通", "银卡", "金卡", "钻石")))
        has_contact = rng.random() < 0.8
        contact = rng.choice(contacts)
        columns["emergency_contact_name"].append(contact.name if has_contact else None)
        columns["emergency_contact_phone"].append(phone_notation(contact.mobile, rng) if has_contact else None)
        if has_contact:
            truth.about(contact)
            truth.label("emergency_contact_name", "name", row)
            truth.label("emergency_contact_phone", "phone", row)
    schema = {"csrq": pa.date32()}
    return Dataset("customers", _table(columns, schema), ("cust_id",), truth)


def orders(rows: int, seed: int) -> Dataset:
    """Orders and logistics: buyers order several times; consignees (nested ``shipping``) are the buyer or
    someone else; a customs declaration names the buyer again; shops and senders are organisations, except
    second-hand sales where the sender is a person. Decoys: order, tracking, claim and batch numbers of 16-19
    random digits, about one in ten passing Luhn by chance."""
    pool, truth, rng = People(seed), Truth(), random.Random(seed)
    buyers = [pool.mainland() for _ in range(max(1, rows // 3))]
    sellers = [pool.mainland() for _ in range(max(1, rows // 20))]
    columns: dict[str, list] = defaultdict(list)
    shipping: list[dict] = []
    customs: list[dict] = []
    for row in range(rows):
        buyer = rng.choice(buyers)
        truth.about(buyer)
        columns["order_no"].append(random_digits(rng, rng.choice((16, 18, 19)), "2"))
        columns["tracking_no"].append(random_digits(rng, rng.choice((12, 15)), "7"))
        columns["claim_no"].append(random_digits(rng, 16, "9") if rng.random() < 0.1 else None)
        columns["batch_no"].append(random_digits(rng, 18, "20"))
        columns["buyer_id"].append(f"U{buyers.index(buyer):07d}")
        columns["nm"].append(buyer.name)
        truth.label("nm", "name", row)
        columns["shop_name"].append(pool.cn.company())
        second_hand = rng.random() < 0.1
        seller = rng.choice(sellers)
        columns["sender_name"].append(seller.name if second_hand else pool.cn.company())
        columns["sender_phone"].append(phone_notation(seller.mobile, rng) if second_hand else None)
        if second_hand:
            truth.about(seller)
            truth.label("sender_name", "name", row)
            truth.label("sender_phone", "phone", row)
        consignee = buyer if rng.random() < 0.6 else pool.mainland()
        truth.about(consignee)
        shipping.append(
            {
                "consignee": consignee.name,
                "consignee_phone": phone_notation(consignee.mobile, rng),
                "address": consignee.address,
            }
        )
        for column, cls in (("consignee", "name"), ("consignee_phone", "phone"), ("address", "address")):
            truth.label(f"shipping.{column}", cls, row)
        cross_border = rng.random() < 0.3
        customs.append(
            {"buyer_name": buyer.name if cross_border else None, "declared_value": round(rng.uniform(10, 900), 2)}
        )
        if cross_border:
            truth.label("customs.buyer_name", "name", row)
        columns["amount"].append(round(rng.uniform(5, 2000), 2))
    table = _table(columns).append_column("shipping", pa.array(shipping)).append_column("customs", pa.array(customs))
    return Dataset("orders", table, ("buyer_id",), truth)


#: Service chat lines: (template, entity classes its slots hold). {n} name, {m} mobile, {o} order number,
#: {c} bank card, {d} a diagnosis. Lines without a slot say nothing about anyone.
CHAT_LINES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("你好，我叫{n}，手机{m}，想查一下订单", ("name", "phone")),
    ("订单{o}已经发货了吗？", ()),
    ("收货人写{n}就行，电话{m}", ("name", "phone")),
    ("退款请打到我的卡{c}", ("bank_card",)),
    ("我是{n}，之前的订单{o}还没到", ("name",)),
    ("我有{d}，这个产品能用吗", ("health",)),
    ("好的，谢谢", ()),
    ("麻烦改一下电话，新号码是{m}", ("phone",)),
)


def chat(rows: int, seed: int) -> Dataset:
    """Free-text service chat: each customer writes several lines under one pseudonymous ``user_id``; some lines
    name them, some give a phone, some only an order number (which passes Luhn by chance about one time in
    ten) or a health condition."""
    pool, truth, rng = People(seed), Truth(), random.Random(seed)
    columns: dict[str, list] = defaultdict(list)
    row = 0
    while row < rows:
        p = pool.mainland()
        user = f"u{rng.getrandbits(40):010x}"
        condition = rng.choice(DIAGNOSES)[0]
        for _ in range(rng.randint(2, 6)):
            if row >= rows:
                break
            template, classes = rng.choice(CHAT_LINES)
            text = template.format(
                n=p.name,
                m=phone_notation(p.mobile, rng),
                o=random_digits(rng, rng.choice((16, 18, 19)), "2"),
                c=card_notation(p.card, rng),
                d=condition,
            )
            if classes:
                truth.about(p)
            if "bank_card" in classes:
                truth.about(p, "financial_account")
            if "health" in classes:
                truth.about(p, "medical_health")
            for cls in classes:
                truth.label("message", cls, row)
            columns["session_id"].append(f"S{seed}{row // 50:06d}")
            columns["user_id"].append(user)
            columns["speaker"].append("客户")
            columns["message"].append(text)
            columns["sent_at"].append(f"2026-05-{1 + row % 28:02d} {8 + row % 12:02d}:{row % 60:02d}:00")
            row += 1
    return Dataset("chat", _table(columns), ("user_id",), truth)


def admissions(rows: int, seed: int) -> Dataset:
    """Hospital admissions with pinyin-initial column names: patients come back (several admissions, the phone
    written differently each time, the ID card not always taken), attending doctors and, for children,
    guardians are second people; diagnoses by name (zdmc) and by ICD-10 code (dx)."""
    pool, truth, rng = People(seed), Truth(), random.Random(seed)
    patients = [pool.child() if rng.random() < 0.15 else pool.mainland() for _ in range(max(1, rows // 2))]
    guardians = {p.pid: pool.mainland(min_age=25, max_age=60) for p in patients if p.minor}
    doctors = [pool.mainland(min_age=28, max_age=65) for _ in range(30)]
    columns: dict[str, list] = defaultdict(list)
    for row in range(rows):
        p = rng.choice(patients)
        diagnosis, _, code = rng.choice(DIAGNOSES)
        truth.about(p, "medical_health", *(("minor_under_14",) if p.minor else ()))
        columns["zyh"].append(f"{20260000000 + row}")  # admission numbers: sequential, 11 digits
        columns["patient_no"].append(f"P{patients.index(p):08d}")
        columns["xm"].append(p.name)
        truth.label("xm", "name", row)
        columns["xb"].append(rng.choice("男女"))
        columns["csrq"].append(p.birth.isoformat())
        truth.label("csrq", "birth_date", row)
        has_id = rng.random() < 0.6
        columns["sfzh"].append(id_notation(p.resident_id, rng) if has_id and p.resident_id else None)
        if has_id and p.resident_id:
            truth.label("sfzh", "resident_id", row)
        has_phone = not p.minor and rng.random() < 0.7
        columns["sjhm"].append(phone_notation(p.mobile, rng) if has_phone else None)
        if has_phone:
            truth.label("sjhm", "phone", row)
        columns["dz"].append(p.address)
        truth.label("dz", "address", row)
        columns["zdmc"].append(diagnosis)
        truth.label("zdmc", "health", row)
        columns["dx"].append(code)
        truth.label("dx", "health", row)
        doctor = rng.choice(doctors)
        truth.about(doctor)
        columns["attending_doctor"].append(doctor.name)
        truth.label("attending_doctor", "name", row)
        guardian = guardians.get(p.pid)
        columns["guardian_name"].append(guardian.name if guardian else None)
        columns["guardian_phone"].append(phone_notation(guardian.mobile, rng) if guardian else None)
        if guardian:
            truth.about(guardian)
            truth.label("guardian_name", "name", row)
            truth.label("guardian_phone", "phone", row)
        admitted = AS_OF - timedelta(days=rng.randint(1, 900))
        columns["ryrq"].append(admitted)
    return Dataset("admissions", _table(columns, {"ryrq": pa.date32()}), ("patient_no",), truth)


def clinic_en(rows: int, seed: int) -> Dataset:
    """An English-named clinic extract (abbreviated names: nm, tel, diag, dx) of patients from the mainland,
    Taiwan, Hong Kong and the US, one visit per row, some patients visiting twice."""
    pool, truth, rng = People(seed), Truth(), random.Random(seed)
    patients = [pool.foreign() if rng.random() < 0.4 else pool.mainland() for _ in range(max(1, rows * 2 // 3))]
    columns: dict[str, list] = defaultdict(list)
    for row in range(rows):
        p = patients[row] if row < len(patients) else rng.choice(patients)
        _, english, code = rng.choice(DIAGNOSES)
        truth.about(p, "medical_health")
        columns["pid"].append(f"M{patients.index(p):06d}")
        columns["nm"].append(p.name)
        truth.label("nm", "name", row)
        columns["tel"].append(phone_notation(p.mobile, rng))
        truth.label("tel", "phone", row)
        columns["email"].append(p.email)
        truth.label("email", "email", row)
        columns["diag"].append(english)
        truth.label("diag", "health", row)
        columns["dx"].append(code)
        truth.label("dx", "health", row)
        columns["visit_no"].append(random_digits(rng, 16, "3"))
    return Dataset("clinic_en", _table(columns), ("pid",), truth)


def insurance(rows: int, seed: int) -> Dataset:
    """Policies with two subject keys of one id space (resident ID numbers: ``holder_id``, ``insured_id``;
    equal on self-insured rows) and a beneficiary with no key of their own."""
    pool, truth, rng = People(seed), Truth(), random.Random(seed)
    columns: dict[str, list] = defaultdict(list)
    for row in range(rows):
        holder = pool.mainland(min_age=25, max_age=70)
        self_insured = rng.random() < 0.35
        insured = holder if self_insured else (pool.child() if rng.random() < 0.4 else pool.mainland())
        beneficiary = pool.mainland()
        truth.about(holder)
        truth.about(insured, *(("minor_under_14",) if insured.minor else ()))
        truth.about(beneficiary)
        columns["policy_no"].append(random_digits(rng, 18, "8"))
        columns["holder_id"].append(holder.resident_id)
        truth.label("holder_id", "resident_id", row)
        columns["holder_name"].append(holder.name)
        truth.label("holder_name", "name", row)
        columns["holder_phone"].append(phone_notation(holder.mobile, rng))
        truth.label("holder_phone", "phone", row)
        has_card = rng.random() < 0.7
        columns["holder_bank_card"].append(card_notation(holder.card, rng) if has_card else None)
        if has_card:
            truth.about(holder, "financial_account")
            truth.label("holder_bank_card", "bank_card", row)
        columns["insured_id"].append(insured.resident_id)
        truth.label("insured_id", "resident_id", row)
        columns["insured_name"].append(insured.name)
        truth.label("insured_name", "name", row)
        columns["insured_birth"].append(insured.birth.strftime("%Y%m%d"))
        truth.label("insured_birth", "birth_date", row)
        has_condition = rng.random() < 0.2
        columns["insured_health_note"].append(rng.choice(DIAGNOSES)[0] if has_condition else None)
        if has_condition:
            truth.about(insured, "medical_health")
            truth.label("insured_health_note", "health", row)
        columns["beneficiary_name"].append(beneficiary.name)
        truth.label("beneficiary_name", "name", row)
        columns["beneficiary_relation"].append(rng.choice(("配偶", "子女", "父母", "法定")))
        columns["premium"].append(round(rng.uniform(500, 20000), 2))
    return Dataset("insurance", _table(columns), ("holder_id", "insured_id"), truth)


#: Product texts with generic health wording: about products, not about anyone.
PRODUCT_TEXTS = (
    "适用于糖尿病患者的无糖配方",
    "HIV test strips, 20 per box",
    "Patients with high blood pressure should consult a doctor before use",
    "孕妇慎用，儿童请在成人监护下使用",
    "for diabetics: sugar-free",
    "血压计，适合高血压人群居家监测",
    "心脏支架术后康复指南（图书）",
)


def catalogue(rows: int, seed: int) -> Dataset:
    """A product catalogue: no person. SKUs, EAN-13 barcodes, 18-digit batch numbers, warehouse and supplier
    addresses, suppliers (companies) and product text with generic health wording."""
    fake, rng, truth = Faker("zh_CN"), random.Random(seed), Truth()
    fake.seed_instance(seed)
    warehouses = [fake.address() for _ in range(8)]
    columns: dict[str, list] = defaultdict(list)
    for row in range(rows):
        columns["sku"].append(f"SKU-{row:07d}")
        columns["barcode"].append(fake.ean13())
        columns["product_name"].append(fake.word() + rng.choice(("血压计", "试纸", "保健茶", "口罩", "书")))
        columns["description"].append(rng.choice(PRODUCT_TEXTS))
        columns["supplier"].append(fake.company())
        columns["warehouse_address"].append(rng.choice(warehouses))
        truth.label("warehouse_address", "address", row)  # an address, about no one
        columns["batch_no"].append(random_digits(rng, 18, "20"))
        columns["price"].append(round(rng.uniform(1, 999), 2))
    return Dataset("catalogue", _table(columns), (), truth)


def general_ledger(rows: int, seed: int) -> Dataset:
    """General-ledger lines: no person. Account codes and names (gl_account, account_code, 银行存款),
    housing-fund and other amounts, sequential 11-digit voucher numbers that look like mobiles, bank
    branches (organisations) as counterparties."""
    fake, rng = Faker("zh_CN"), random.Random(seed)
    fake.seed_instance(seed)
    accounts = [
        ("1002", "银行存款"),
        ("2211", "应付职工薪酬-住房公积金"),
        ("6001", "主营业务收入"),
        ("6602", "管理费用"),
    ]
    columns: dict[str, list] = defaultdict(list)
    for row in range(rows):
        code, name = rng.choice(accounts)
        columns["voucher_no"].append(str(13900000000 + row))
        columns["gl_account"].append(code)
        columns["account_code"].append(f"{code}.{rng.randint(1, 20):02d}.{rng.randint(1, 99):02d}")
        columns["account_name"].append(name)
        columns["counterparty"].append(rng.choice(("中国工商银行上海分行", "招商银行深圳分行")) + "营业部")
        columns["housing_fund_amount"].append(round(rng.uniform(100, 5000), 2))
        columns["公积金缴存额"].append(f"{rng.uniform(100, 5000):.2f}")
        columns["amount"].append(round(rng.uniform(-1e5, 1e5), 2))
        columns["posted_on"].append(AS_OF - timedelta(days=rng.randint(0, 180)))
    return Dataset("general_ledger", _table(columns, {"posted_on": pa.date32()}), (), Truth())


def iot_readings(rows: int, seed: int) -> Dataset:
    """IoT sensor readings: no person. Devices at fixed sites (the same coordinates on every reading),
    IMEI-like serials that pass Luhn, readings and timestamps."""
    rng, truth = random.Random(seed), Truth()
    sites = [(round(rng.uniform(22, 40), 6), round(rng.uniform(100, 122), 6)) for _ in range(12)]
    serials = [luhn_passing(rng, 15) for _ in range(40)]
    columns: dict[str, list] = defaultdict(list)
    for row in range(rows):
        device = rng.randrange(len(serials))
        lat, lng = sites[device % len(sites)]
        columns["device_sn"].append(serials[device])
        columns["site_lat"].append(lat)
        columns["site_lng"].append(lng)
        columns["site_location"].append(f"{lat},{lng}")
        for column in ("site_lat", "site_lng", "site_location"):
            truth.label(column, "location", row)  # a place, about no one
        columns["temperature"].append(round(rng.uniform(-10, 40), 1))
        columns["humidity"].append(round(rng.uniform(10, 95), 1))
        columns["read_at"].append(f"2026-06-{1 + row % 28:02d}T{row % 24:02d}:00:00")
    return Dataset("iot_readings", _table(columns), (), truth)


def _table(columns: dict[str, list], types: dict[str, pa.DataType] | None = None) -> pa.Table:
    types = types or {}
    return pa.table({name: pa.array(values, type=types.get(name)) for name, values in columns.items()})


DATASETS: dict[str, Callable[[int, int], Dataset]] = {
    "customers": customers,
    "orders": orders,
    "chat": chat,
    "admissions": admissions,
    "clinic_en": clinic_en,
    "insurance": insurance,
    "catalogue": catalogue,
    "general_ledger": general_ledger,
    "iot_readings": iot_readings,
}
#: The datasets that hold no person at all.
PEOPLE_FREE = ("catalogue", "general_ledger", "iot_readings")


def generate(name: str, rows: int = 2000, seed: int = 1) -> Dataset:
    """One dataset of the corpus, made afresh from ``seed``."""
    return DATASETS[name](rows, seed)
