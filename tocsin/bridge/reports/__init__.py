"""SLA reports: figures computed from the timeline, rendered for terminals, files, the web and channels."""
