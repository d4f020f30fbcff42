"""Service checks: is a process running, a port answering, a URL healthy, a certificate valid
for long enough, a file there and fresh. Run off the cycle (checks/runner.py), each bounded by
its own timeout; their results are gauges like any other, for /metrics and for the rules.

Only the metric names and HELP texts live here, so /metrics knows them without loading the
checks themselves on an agent that runs none.
"""

from __future__ import annotations

UP = "tocsin_check_up"
DURATION = "tocsin_check_duration_seconds"
HTTP_STATUS = "tocsin_check_http_status_code"
CERT_EXPIRY = "tocsin_check_certificate_expiry_seconds"
FILE_AGE = "tocsin_check_file_age_seconds"
FILE_SIZE = "tocsin_check_file_size_bytes"
PROCESSES = "tocsin_check_processes"
HELP = {
    UP: "1 if the service check passed at its last run, 0 if it failed or timed out, "
    "by check name and kind (process, tcp, http, tls, file).",
    DURATION: "Seconds the service check's last run took (connect, request or handshake).",
    HTTP_STATUS: "HTTP status code of the check's last request; 0 when none was answered.",
    CERT_EXPIRY: "Seconds until the certificate the check was shown expires (negative: expired).",
    FILE_AGE: "Seconds since the checked file was last modified.",
    FILE_SIZE: "Size of the checked file in bytes.",
    PROCESSES: "Processes found by the check (by name, or the pidfile's process: 0 or 1).",
}
# The gauges rules may read, with their labels (merged into rules.GAUGES).
GAUGES = {
    UP: ("check", "kind"),
    DURATION: ("check", "kind"),
    HTTP_STATUS: ("check",),
    CERT_EXPIRY: ("check",),
    FILE_AGE: ("check",),
    FILE_SIZE: ("check",),
    PROCESSES: ("check",),
}
