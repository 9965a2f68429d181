"""Schema migrations (alembic), run automatically whenever PayDesk opens a database.

Developers: after changing ``models.py`` run
``python -m app.core.storage.migrate --regenerate-initial``. Until PayDesk's first release the
schema is one initial revision, regenerated from the models (with the hand-written parts
below — the currency lock triggers — appended). After the first release, switch to
``--autogenerate "message"`` which adds a new revision on top.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
INITIAL_REVISION = "0001"


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database to the newest schema. Safe to call on every start.

    A database that holds tables PayDesk did not create (another program's) is refused
    before anything is written. The upgrade runs in one transaction on both engines, so a
    migration that fails leaves nothing behind.
    """
    current = current_revision(engine)
    if current == head_revision():
        return
    if current is None:
        _refuse_foreign_tables(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            # pysqlite runs DDL outside a transaction unless one was begun explicitly.
            connection.exec_driver_sql("BEGIN")
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _refuse_foreign_tables(engine: Engine) -> None:
    from app.core.storage.engine import DatabaseError

    names = sorted(n for n in inspect(engine).get_table_names() if n != "alembic_version")
    if not names:
        return
    shown = ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
    where = engine.url.render_as_string(hide_password=True)
    raise DatabaseError(
        f"The database at {where} already holds tables PayDesk did not create ({shown}). "
        "PayDesk needs a database of its own: give it an empty database or a new file, and "
        "leave this one to the program it belongs to. Nothing was changed.")


# --- the currency lock, installed by the initial revision ------------------------------------

_SQLITE_CURRENCY_TRIGGERS = [
    """CREATE TRIGGER internal_currency_no_update BEFORE UPDATE ON internal_currency
       BEGIN SELECT RAISE(ABORT, 'The internal currency is locked and cannot be changed'); END""",
    """CREATE TRIGGER internal_currency_no_delete BEFORE DELETE ON internal_currency
       BEGIN SELECT RAISE(ABORT, 'The internal currency is locked and cannot be changed'); END""",
]

_POSTGRES_CURRENCY_TRIGGERS = [
    """CREATE FUNCTION internal_currency_locked() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'The internal currency is locked and cannot be changed'; END;
       $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER internal_currency_no_change BEFORE UPDATE OR DELETE ON internal_currency
       FOR EACH ROW EXECUTE FUNCTION internal_currency_locked()""",
    """CREATE TRIGGER internal_currency_no_truncate BEFORE TRUNCATE ON internal_currency
       FOR EACH STATEMENT EXECUTE FUNCTION internal_currency_locked()""",
]


def install_currency_lock(op: Operations) -> None:
    """Called from the initial revision: database triggers that make the currency immutable."""
    dialect = op.get_bind().dialect.name
    statements = _SQLITE_CURRENCY_TRIGGERS if dialect == "sqlite" else _POSTGRES_CURRENCY_TRIGGERS
    for statement in statements:
        op.execute(statement)


def _hand_written_upgrade() -> str:
    return (
        "\n    # Hand-written: the internal currency can never change once set.\n"
        "    from app.core.storage.migrate import install_currency_lock, install_search_indexes\n\n"
        "    install_currency_lock(op)\n"
        "    # Hand-written: substring-search indexes and the name sort order (engine-specific).\n"
        "    install_search_indexes(op)\n"
    )


def install_search_indexes(op: Operations) -> None:
    """Called from the initial revision: the engine-specific objects behind substring search
    and the language-aware name order (``app.core.storage.search``)."""
    from app.core.storage.search import install

    install(op.get_bind())


def include_name(name: str | None, type_: str, _parent: object) -> bool:
    """Leaves the hand-written search objects out of model/database comparisons."""
    from app.core.storage.search import is_hand_written

    return not (name and type_ in ("table", "index") and is_hand_written(name))


def regenerate_initial() -> Path:
    """Rewrite the single initial revision from the models (pre-release schema policy)."""
    versions = MIGRATIONS_DIR / "versions"
    for old in versions.glob("*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
        with engine.begin() as connection:
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.revision(
                config, message="initial schema", autogenerate=True, rev_id=INITIAL_REVISION
            )
        engine.dispose()
    (path,) = versions.glob(f"{INITIAL_REVISION}_*.py")
    text = path.read_text()
    text = re.sub(
        r"(def upgrade\(\) -> None:\n(?:.*\n)*?)(\n\ndef downgrade)",
        lambda m: m.group(1).rstrip("\n") + "\n" + _hand_written_upgrade() + m.group(2),
        text,
        count=1,
    )
    path.write_text(text)
    return path


def autogenerate(message: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'db.sqlite'}")
        upgrade_to_head(engine)
        with engine.begin() as connection:
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.revision(config, message=message, autogenerate=True)
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.core.storage.migrate")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--regenerate-initial", action="store_true")
    group.add_argument("--autogenerate", metavar="MESSAGE")
    args = parser.parse_args(argv)
    if args.regenerate_initial:
        path = regenerate_initial()
        print(f"wrote {path}")  # noqa: T201
    else:
        autogenerate(args.autogenerate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
