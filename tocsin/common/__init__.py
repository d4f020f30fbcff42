"""What both programs share: durations and sizes, YAML with line numbers, sd_notify, journald
priorities and the error root.

Owns: `durations`, `yamlsource`, `sdnotify`, `journal`, `errors`. May import only the standard
library and PyYAML, never `tocsin.agent` or `tocsin.bridge`: the agent runs on every host and pays
for every import made here (tests/test_architecture.py checks both rules).
"""
