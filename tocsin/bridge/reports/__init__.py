"""SLA reports: figures computed from the timeline, rendered for terminals, files, the web and channels.

Owns report figures, renderings and scheduled reports. May import notify (to send a report),
incidents, sla, timers and everything below.
"""
