"""API keys: create, list and revoke them.

    python -m ops.keys create --name agency-x --roles submit,read
    python -m ops.keys list
    python -m ops.keys revoke key_1a2b3c4d5e6f

Connects as a role that may write api_keys: DATABASE_URL, or else the
embedded PostgreSQL that `make run` starts (127.0.0.1, PG_PORT 54329, its
admin password from $DATA_DIR/pg-passwords.json).
A key is printed once, at creation; only its sha256 is stored.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import psycopg

from complaints.auth import ROLES, key_digest
from complaints.config import env_int
from ops.embedded_pg import local_admin_url


def new_key() -> str:
    # 256 random bits: a plain sha256 of it is safe to store.
    return "ck_" + secrets.token_urlsafe(32)


def _roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise ValueError(f"roles must be some of {', '.join(ROLES)}; got {', '.join(roles) or 'none'}")
    return sorted(set(roles))


def create(conn: psycopg.Connection[Any], name: str, roles: list[str], key: str | None = None) -> tuple[str, str]:
    """Stores a new key; returns (key ID, key). The key cannot be read back later."""
    key = key or new_key()
    key_id = "key_" + secrets.token_hex(6)
    conn.execute(
        "INSERT INTO api_keys (id, name, key_sha256, roles) VALUES (%s, %s, %s, %s)",
        (key_id, name, key_digest(key), _roles(roles)),
    )
    return key_id, key


def revoke(conn: psycopg.Connection[Any], key_id: str) -> bool:
    cur = conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (key_id,))
    return cur.rowcount == 1


def listing(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT id, name, array_to_string(roles, ','), created_at, revoked_at FROM api_keys ORDER BY created_at, id"
    ).fetchall()


def _active_roles(conn: psycopg.Connection[Any], key: str) -> set[str] | None:
    row = conn.execute(
        "SELECT roles FROM api_keys WHERE key_sha256 = %s AND revoked_at IS NULL", (key_digest(key),)
    ).fetchone()
    return set(row[0]) if row else None


def ensure_file(url: str, path: Path, name: str, roles: list[str], key: str | None = None) -> str:
    """The key kept in `path` while it is still active with `roles`; else a new
    one (or `key`, when given), stored and written to `path` readable by its
    owner only. How `make run` keeps one development key across restarts."""
    wanted = set(_roles(roles))
    with psycopg.connect(url, autocommit=True) as conn:
        for candidate in (key, path.read_text().strip() if path.exists() else None):
            if candidate and _active_roles(conn, candidate) == wanted:
                break
        else:
            _, candidate = create(conn, name, sorted(wanted), key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(candidate + "\n")
    return candidate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.keys", description="Manage API keys.")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL")
        or local_admin_url(Path(os.environ.get("DATA_DIR", ".data")), env_int("PG_PORT", 54329, minimum=1)),
    )
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("create", help="create a key and print it once")
    made.add_argument("--name", required=True, help="who holds the key, e.g. the submitting agency")
    made.add_argument("--roles", required=True, help=f"comma-separated, among {', '.join(ROLES)}")
    commands.add_parser("list", help="list keys (never the keys themselves)")
    gone = commands.add_parser("revoke", help="revoke a key by its ID; services refuse it within AUTH_CACHE_SECONDS")
    gone.add_argument("key_id")
    args = parser.parse_args(argv)

    with psycopg.connect(args.database_url, autocommit=True) as conn:
        if args.command == "create":
            try:
                key_id, key = create(conn, args.name, [r.strip() for r in args.roles.split(",") if r.strip()])
            except ValueError as exc:
                parser.error(str(exc))
            print(f"id:  {key_id}\nkey: {key}\n(the key is shown only now; send it as 'authorization: Bearer <key>')")
        elif args.command == "list":
            print(f"{'id':<18} {'name':<24} {'roles':<24} {'created':<20} revoked")
            for key_id, name, roles, created, revoked in listing(conn):
                print(
                    f"{key_id:<18} {name:<24} {roles:<24} {created:%Y-%m-%d %H:%M:%S} "
                    f"{revoked.strftime('%Y-%m-%d %H:%M:%S') if revoked else '-'}"
                )
        elif not revoke(conn, args.key_id):
            print(f"no active key with ID {args.key_id}", file=sys.stderr)
            return 1
        else:
            print(f"revoked {args.key_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
