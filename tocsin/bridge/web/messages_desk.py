"""The service desk's and on-call workflow's words: reports, reopening, finding, timeline sentences."""

from __future__ import annotations

EN: dict[str, str] = {
    "new.choose": "Choose a priority…",
    "new.by_route": "As the route says",
    "new.labels_hint": "optional, name=value, comma separated",
    "new.labels": "Labels",
    "new.routing": (
        "Service, host and labels are matched against the routes like an alert's labels: "
        "the route chooses the team and whom to page."
    ),
    "field.choose_assignee": "Nobody yet",
    "field.people": "People",
    "field.teams": "Teams",
    "action.reopen": "Reopen",
    "action.amend": "Save root cause and solution",
    "action.pause_after_ack": "Clocks can be paused once the incident is acknowledged.",
    "event.incident.reopened": "reopened",
    "event.incident.resolution_edited": "resolution edited",
}

ZH_CN: dict[str, str] = {
    "new.choose": "请选择优先级…",
    "new.by_route": "按路由规则",
    "new.labels_hint": "可选，格式 名称=值，用逗号分隔",
    "new.labels": "标签",
    "new.routing": "服务、主机和标签会像告警标签一样匹配路由规则：由路由决定负责团队和通知对象。",
    "field.choose_assignee": "暂不指派",
    "field.people": "人员",
    "field.teams": "团队",
    "action.reopen": "重新打开",
    "action.amend": "保存根本原因和解决方案",
    "action.pause_after_ack": "事件确认后才能暂停计时。",
    "event.incident.reopened": "重新打开",
    "event.incident.resolution_edited": "修改了解决方案",
}
