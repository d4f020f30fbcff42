"""tocsin-bridge: turns alerts into prioritised incidents and keeps their response clocks.

Owns the packages below, in layers from the bottom up. May import tocsin.common, never
tocsin.agent. Inside, a package may import its own layer and the layers below it, never one
above, and no two packages may import each other, even through others
(tests/test_architecture.py checks all of this and names the import that breaks a rule):

layer 1: errors, platform
layer 2: store, policy, migrations
layer 3: timers, paging, kb, accounts
layer 4: incidents, sla
layer 5: ingest, notify, reports, maintenance, mailin
layer 6: runtime
layer 7: api, web
layer 8: server, cli

An alert travels upward: api receives it, ingest applies it to incidents, sla starts its clocks
on timers, notify pages whom paging chose; docs/ARCHITECTURE.md follows it hop by hop.
"""
