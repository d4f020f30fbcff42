"""tocsin-agent: samples a host, serves /metrics, evaluates threshold rules and pushes alerts.

Owns the agent's collectors, sampler, rules, evaluator, push and spool, and its command line.
May import tocsin.common, tocsin_rules (its bundled rules) and its own light dependencies
(psutil, prometheus-client, requests, PyYAML, click); never tocsin.bridge.
"""
