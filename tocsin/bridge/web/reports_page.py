"""The board's report page: the SLA figures, the response chart, breaches and their reasons.

Served at /reports behind the board's login, with the same figures as GET /api/v1/reports/sla;
operators record breach reasons and exemptions here with a CSRF-checked form.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import Response
from markupsafe import Markup

from tocsin.bridge.api.deps import get_runtime
from tocsin.bridge.api.params import refuse_nul, row_id
from tocsin.bridge.errors import BridgeError, InvalidInput, ReportsBusy
from tocsin.bridge.policy.model import CLOCKS
from tocsin.bridge.reports.breaches import record_reason
from tocsin.bridge.reports.chart import response_chart
from tocsin.bridge.reports.figures import SlaReport
from tocsin.bridge.reports.offload import ReportRequest
from tocsin.bridge.reports.query import parse_window
from tocsin.bridge.reports.render import percent, to_csv
from tocsin.bridge.reports.trend_chart import trend_chart
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.web.auth import checked_form, csrf_refused, redirect, safe_next
from tocsin.bridge.web.i18n import Translator
from tocsin.bridge.web.render import page, secure_headers
from tocsin.bridge.web.visitor import ManagerDep, Visitor, web_router

router = web_router()
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
FILTERS = ("since", "until", "team", "priority")

# The page's own words; the board's catalogue holds the rest (nav, login, buttons).
WORDS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "SLA report",
        "window": "Incidents opened from {since} to {until} (UTC)",
        "since": "Since",
        "until": "Until",
        "since_hint": "7d, 30d or 2026-03-01T00:00:00Z",
        "team": "Team",
        "priority": "Priority",
        "all": "All",
        "apply": "Show",
        "csv": "Download CSV",
        "chart": "Time to acknowledge against the response target, per priority",
        "trend": "Weekly trend: share within the response target (line), median time to acknowledge (below)",
        "trend_note": "Weeks start on Monday 00:00 UTC.",
        "week": "Week",
        "within_response": "Response within target",
        "ack_median": "Median time to acknowledge",
        "by_reason": "Breaches by reason",
        "dispute": "Dispute",
        "decision_upheld": "upheld",
        "decision_exempted": "exempted",
        "undecided": "awaiting a manager's decision",
        "count_col": "Breaches",
        "trend_empty": "no incidents in the window",
        "by_priority": "By priority",
        "by_team": "By team",
        "opened": "Opened",
        "ack": "Time to acknowledge",
        "resolve": "Time to resolve",
        "median": "median",
        "p90": "p90",
        "max": "max",
        "target": "target",
        "no_ack": "no acknowledged incidents",
        "no_team": "(no team)",
        "bad_window": "'{value}' is neither a span such as 7d nor an instant such as 2026-03-01T00:00:00Z; showing the last 7 days.",
        "within": "Within target",
        "response": "response",
        "update": "update",
        "resolution": "resolution",
        "breaches": "Breaches",
        "exempt": "Exempt",
        "unanswered": "Resolved before response",
        "escalations": "Escalations",
        "major": "Major",
        "satisfaction": "Satisfaction",
        "by_reporter": "{n} from reporters",
        "total": "All",
        "none": "None.",
        "incident": "Incident",
        "clock": "Clock",
        "due": "Due",
        "late": "Late by",
        "reason": "Reason",
        "no_reason": "not recorded",
        "exemptions": "Exempt breaches",
        "unreached": "Escalation steps that reached nobody",
        "unreached_note": "Targets a step could not page (a gap in an on-call rotation, nobody with an address).",
        "at": "At",
        "targets": "Targets",
        "exempt_box": "exempt",
        "save": "Save reason",
        "note": "Within target counts met and missed deadlines; exempt misses and running clocks are left out. Paused time is not counted. Resolved before response: the sender resolved the incident before anyone responded; it is never counted as met.",
        "saved": "Reason saved.",
    },
    "zh-CN": {
        "title": "SLA 报表",
        "window": "{since} 至 {until}（UTC）期间创建的事件",
        "since": "起",
        "until": "止",
        "since_hint": "7d、30d 或 2026-03-01T00:00:00Z",
        "team": "团队",
        "priority": "优先级",
        "all": "全部",
        "apply": "查看",
        "csv": "下载 CSV",
        "chart": "各优先级的确认用时与响应目标",
        "trend": "每周趋势：响应达标率（折线）与确认用时中位数（下方）",
        "trend_note": "每周从周一 00:00 UTC 开始。",
        "week": "周",
        "within_response": "响应达标率",
        "ack_median": "确认用时中位数",
        "by_reason": "按原因统计的超时",
        "dispute": "申诉",
        "decision_upheld": "维持超时",
        "decision_exempted": "已豁免",
        "undecided": "待经理裁定",
        "count_col": "超时次数",
        "trend_empty": "时间范围内没有事件",
        "by_priority": "按优先级",
        "by_team": "按团队",
        "opened": "新建",
        "ack": "确认用时",
        "resolve": "解决用时",
        "median": "中位数",
        "p90": "p90",
        "max": "最长",
        "target": "目标",
        "no_ack": "暂无已确认的事件",
        "no_team": "（无团队）",
        "bad_window": "“{value}”既不是时长（如 7d）也不是时间点（如 2026-03-01T00:00:00Z）；现显示最近 7 天。",
        "within": "达标率",
        "response": "响应",
        "update": "更新",
        "resolution": "解决",
        "breaches": "超时",
        "exempt": "豁免",
        "unanswered": "响应前已解决",
        "escalations": "升级",
        "major": "重大",
        "satisfaction": "满意度",
        "by_reporter": "其中 {n} 份来自报告人",
        "total": "合计",
        "none": "无。",
        "incident": "事件",
        "clock": "时钟",
        "due": "截止",
        "late": "超出",
        "reason": "原因",
        "no_reason": "未填写",
        "exemptions": "豁免的超时",
        "unreached": "无人接收的升级步骤",
        "unreached_note": "升级步骤未能通知到的对象（值班表有空档，或无人可联系）。",
        "at": "时间",
        "targets": "通知对象",
        "exempt_box": "豁免",
        "save": "保存原因",
        "note": "达标率只计已达标和已超时的时钟；豁免和仍在计时的不计入。暂停时间不计。响应前已解决：报告方在任何人响应前已自行解决，绝不计为达标。",
        "saved": "原因已保存。",
    },
}


def words(language: str) -> Mapping[str, str]:
    """Return the page's words in a language, English where a translation is missing."""
    return {**WORDS["en"], **WORDS.get(language, {})}


def _report(runtime: Runtime, now: datetime, params: Mapping[str, str]) -> SlaReport:
    refuse_nul(params.get("team"), "team")
    priority = params.get("priority") or None
    if priority is not None and priority not in runtime.policy.priorities:
        raise InvalidInput(
            f"priority {priority!r} is not one of {', '.join(runtime.policy.priorities)}"
        )
    since, until = parse_window(params.get("since") or None, params.get("until") or None, now)
    team = params.get("team") or None
    return runtime.reports.report(
        ReportRequest(runtime.policy, since, until, now, team=team, priority=priority)
    )


def _params(request: Request) -> dict[str, str]:
    return {k: request.query_params[k][:100] for k in FILTERS if request.query_params.get(k)}


@router.get("/reports", name="reports_page")
def reports(request: Request, who: ManagerDep, runtime: RuntimeDep) -> Response:
    params = _params(request)
    w = words(who.language)
    error = None
    try:
        report = _report(runtime, who.now, params)
    except ReportsBusy:
        raise  # 503 with Retry-After: asking again at once would only queue another
    except BridgeError as exc:
        # A window that does not parse: said in the reader's language, the default shown.
        field = getattr(exc, "field", None) or "since"
        shown = w["bad_window"].format(value=params.get(field, ""))
        error, params = (shown if exc.http_status < 500 else exc.message), {}
        report = _report(runtime, who.now, params)
    context: dict[str, Any] = {
        "w": w,
        "report": report,
        "display_name": who.context.display_name,
        "params": params,
        "error": error,
        "saved": request.query_params.get("saved") == "1",
        "clocks": CLOCKS,
        "priorities": tuple(runtime.policy.priorities),
        "chart": Markup(response_chart(report, w["chart"], w)),  # built by us, every text escaped
        "trend_svg": Markup(  # built by us, every text escaped
            trend_chart(
                report.trend,
                w["trend"],
                {"median": w["median"], "within": w["within"], "empty": w["trend_empty"]},
            )
        ),
        "dur": lambda seconds: (
            Translator(who.language)("incident.none")
            if seconds is None
            else Translator(who.language).duration(seconds)
        ),
        # One mark for "none" on every page: the board's dash, not the text report's hyphen.
        "percent": lambda ratio: (
            Translator(who.language)("incident.none") if ratio is None else percent(ratio)
        ),
        "csv_url": "/reports.csv" + ("?" + urlencode(params) if params else ""),
        "back": request.url.path + ("?" + request.url.query if request.url.query else ""),
    }
    return page(request, who, "reports.html", context, status_code=422 if error else 200)


@router.get("/reports.csv")
def reports_csv(request: Request, who: ManagerDep, runtime: RuntimeDep) -> Response:
    report = _report(runtime, who.now, _params(request))
    response = Response(to_csv(report), media_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="sla-report.csv"'
    who.write_cookie(response)
    return secure_headers(response)


@router.post("/reports/breaches/{incident_id}/{clock}")
async def breach_reason(
    request: Request, incident_id: str, clock: str, who: ManagerDep, runtime: RuntimeDep
) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    number = row_id(incident_id)
    if number is None:
        return _refused(request, who, f"no incident {incident_id[:40]}", 404)
    reason = str(form.get("reason") or "").strip()[:2000]
    back = safe_next(str(form.get("back") or "/reports"))
    if not reason or "\x00" in reason:
        return _refused(request, who, "a reason is needed, without NUL characters", 422)
    try:
        with runtime.store.begin() as conn:
            record_reason(conn, number, clock, reason=reason, exempt=form.get("exempt") == "1")
    except BridgeError as exc:
        return _refused(request, who, exc.message, exc.http_status)
    return redirect(who, back + ("&" if "?" in back else "?") + "saved=1")


def _refused(request: Request, who: Visitor, message: str, status: int) -> Response:
    return page(request, who, "error.html", {"message_key": message}, status_code=status)
