"""People as users of the board: accounts, passwords, sessions, roles, API tokens, sign-in.

Owns the roles and their permissions, Argon2 password hashes, server-side sessions, invite links,
per-person API tokens, the failed-sign-in throttle and OpenID Connect sign-in. May import store,
policy, platform and errors; the runtime builds an `Accounts`, and api, web and cli build on it.
"""
