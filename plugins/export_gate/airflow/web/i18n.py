"""The review pages' words in the reviewer's language: English, or Simplified Chinese when Airflow's UI is in
Chinese.

Airflow keeps the UI language in the browser (i18next's ``i18nextLng`` in local storage, which the page shares
with Airflow as it has the same origin); app.js copies it into the ``export_gate_lang`` cookie so the server
renders the same language. Without the cookie, the browser's Accept-Language decides. Ids, rule texts and
messages from the lists stay as written; only the page's own labels are translated.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

COOKIE = "export_gate_lang"
LANGUAGES: tuple[str, ...] = ("en", "zh-CN")

ZH_CN: dict[str, str] = {
    "Export Gate": "出境闸门",
    "Decisions": "出境决定",
    "Dashboard": "合规看板",
    "Handlers & thresholds": "处理者与阈值",
    "signed in as": "当前用户",
    "Export decisions": "数据出境决定",
    "Every gate run, newest first: what was sent abroad, under which rule, and how many people it counted.": (
        "每次闸门运行（最新在前）：向境外提供了什么、依据哪条规则、涉及多少人。"
    ),
    "DAG": "DAG",
    "Run": "运行",
    "Task": "任务",
    "Handler": "处理者",
    "List": "清单",
    "Scenario": "场景",
    "Rule": "规则",
    "Decision": "决定",
    "Event": "事件",
    "From": "自",
    "To": "至",
    "Sort": "排序",
    "any": "全部",
    "Filter": "筛选",
    "Clear": "清除",
    "Download CSV": "下载 CSV",
    "Download JSON": "下载 JSON",
    "records": "条记录",
    "match the filters": "符合筛选条件",
    "Export date": "出境日期",
    "Recorded": "记录时间",
    "DAG / run / task": "DAG / 运行 / 任务",
    "List · scenario": "清单 · 场景",
    "In export": "本次出境",
    "Year to date": "年度累计",
    "Decided by": "决定依据",
    "report": "报告",
    "No records": "没有记录",
    "Previous": "上一页",
    "Next": "下一页",
    "page": "页",
    "of": "/",
    "Audit chain": "审计链",
    "Chain status": "审计链状态",
    "allow": "允许",
    "annotate": "附注放行",
    "block": "阻止",
    "confirm": "确认",
    "release": "释放",
    "gate": "闸门",
    "review": "审核",
    "filing": "备案",
    "blocked gate record": "被阻止的闸门记录",
    "new decision": "新决定",
    "unknown": "未知",
    "newest": "最新",
    "oldest": "最早",
    "export_date": "出境日期",
    "handler": "处理者",
    "dag": "DAG",
    "decision": "决定",
    "people": "人数",
    "command line": "命令行",
    "gate record": "闸门记录",
    "count unknown": "人数未知",
    "untrusted": "不可信",
    "Personal": "个人信息",
    "Sensitive": "敏感个人信息",
    "personal": "个人信息",
    "sensitive": "敏感个人信息",
    "Threshold": "阈值",
    "Used": "已用",
    "Left": "剩余",
    "Exports that moved it": "影响累计的出境",
    "near a threshold": "接近阈值",
    "over": "已超过",
    "Data handlers, year to date": "各处理者年度累计",
    "Year": "年度",
    "Lists": "清单",
    "blocked": "被阻止",
    "before": "之前",
    "this export": "本次出境",
    "threshold": "阈值",
    "further thresholds": "更高阈值",
    "Back to the decisions": "返回出境决定",
    "People counted": "统计人数",
    "Obligations": "义务",
    "Filings used": "所用备案",
    "Warnings": "警告",
    "Margins to the thresholds": "距阈值余量",
    "What was scanned": "扫描内容",
    "Data handler": "个人信息处理者",
    "Source": "来源",
    "Fingerprint": "指纹",
    "Detectors": "检测器",
    "Record hash": "记录哈希",
    "Previous hash": "前一记录哈希",
    "Report": "报告",
}


def language(request: Request) -> str:
    """The language of this request's pages: the cookie app.js sets from Airflow's language, else the
    browser's first choice; Chinese in any region or script means zh-CN (the only translation)."""
    chosen = request.cookies.get(COOKIE) or request.headers.get("accept-language", "").split(",")[0]
    return "zh-CN" if chosen.strip().lower().startswith("zh") else "en"


def translator(lang: str) -> Callable[[str], str]:
    """``t(text)``: the label in ``lang``, or the English text when there is no translation."""
    words = ZH_CN if lang == "zh-CN" else {}
    return lambda text: words.get(text, text)
