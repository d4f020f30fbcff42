"""Who is paged: on-call schedules (oncall), escalation steps (escalation), the seam to delivery (pager).

Owns the decisions of whom to reach and when to go up a level, free of I/O. May import policy and
platform.
"""
