"""The password hasher: Argon2id with parameters chosen for this service.

Django's own Argon2PasswordHasher asks for 100 MiB and 8 lanes per hash
(about 0.35 s of CPU on the two-core machine of the benchmarks). We take
OWASP's first Argon2id configuration instead (Password Storage Cheat Sheet:
19 MiB, 2 passes, 1 lane):

- online guessing is bounded by the throttling (accounts/throttling.py:
  10 failures per account and 50 per address in 15 minutes, and nginx's rate
  limit), so the hash does not have to slow an attacker down on its own;
- offline, 19 MiB per guess keeps GPU and ASIC attacks expensive, and every
  password has at least 12 characters and is checked against the common
  passwords list (AUTH_PASSWORD_VALIDATORS);
- one hash costs about 45 ms of one core here (measured 2026: 44.7 ms wall,
  44.3 ms CPU, argon2-cffi 25.1.0, load average 0.9, 2 shared cores), so a
  flood of wrong passwords that gets past the throttling costs the signed-in
  users little, where PBKDF2 with 1.5 M iterations cost 0.7 to 2 CPU-s a try.

Old PBKDF2 hashes stay valid (PBKDF2 follows in PASSWORD_HASHERS) and are
replaced by an Argon2id hash at the next successful sign-in; an Argon2 hash
made with other parameters is rehashed the same way (`must_update`).
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class HuisClosArgon2Hasher(Argon2PasswordHasher):
    # Same algorithm name as Django's hasher: hashes stay readable by it,
    # and a change of parameters here triggers a rehash at sign-in.
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
