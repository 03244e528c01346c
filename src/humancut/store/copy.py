"""`humancut keys copy`: everything a key store holds, from one to another (e.g. SQLite ->
PostgreSQL): the keys (hash, status, balance, limits), their usage and the audit trail, in
one transaction of the target's. The source wins; a key revoked in the target stays revoked;
each key the copy adds or changes gets an audit entry. Running it twice leaves the target as
after the first run (nothing is changed, so nothing more is audited)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .keys import KeyStore

SHOWN = ("name", "status", "credits", "rate_per_minute", "max_in_flight")  # in audit entries


@dataclass
class Copied:
    added: int = 0
    updated: int = 0  # keys that were already there (changed or not)
    usage: int = 0  # usage rows (per key, day and outcome)
    audit: int = 0  # the source's audit entries added


def copy_store(source: KeyStore, target: KeyStore, actor: str, origin: str) -> Copied:
    """Copy `source` into `target`; `origin` (the source's URL, without a password) goes
    into the audit entries, written as `actor`."""
    before = {key.id: (key, secret_hash) for key, secret_hash in target.export()}
    done = Copied()
    with target.atomic():
        # The source's history first, so the copy's own entries come after it.
        done.audit = target.restore_audit(source.audit_log(limit=10**9)[::-1])
        for key, secret_hash in source.export():
            target.restore(key, secret_hash)
            after, old = target.get(key.id) or key, before.get(key.id)
            if old is None:
                done.added += 1
                fields = {k: v for k, v in asdict(after).items() if k in SHOWN}
            else:
                done.updated += 1
                fields = {k: v for k, v in asdict(after).items()
                          if k in SHOWN and getattr(old[0], k) != v}
                if secret_hash != old[1]:
                    fields["secret"] = "replaced"
                if not fields:
                    continue
            target.audit("copy", key.id, {"from": origin, **fields}, actor)
        usage = source.export_usage()
        target.restore_usage(usage)
        done.usage = len(usage)
    return done
