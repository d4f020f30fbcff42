"""Incidents from e-mail: an SMTP/LMTP listener and an IMAP poller feeding one gateway.

Owns reading mail (parse, text), telling machine mail and replies apart (loops), sorting by
sender domain and subject (rules), storing an incident or a reporter's note (gateway), and
the two transports (smtp, imap). May import incidents, timers and everything below;
install.py builds its workers for the runtime.
"""
