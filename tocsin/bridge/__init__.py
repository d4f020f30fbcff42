"""tocsin-bridge: turns alerts into prioritised incidents and keeps their response clocks."""
