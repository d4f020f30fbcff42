"""Who is paged: on-call schedules (oncall), escalation steps (escalation), the seam to delivery (pager)."""
