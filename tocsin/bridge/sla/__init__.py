"""SLA clocks: business-time arithmetic, clock maths, and the hook that keeps clocks in the store."""
