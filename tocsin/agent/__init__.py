"""tocsin-agent: samples a host, serves /metrics, evaluates threshold rules and pushes alerts."""
