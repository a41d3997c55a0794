"""The alerts process's checkpoints: per partition, the wall time up to which
every device message received has been judged (README, "Alerts: rules on
device time")."""

from __future__ import annotations

from datetime import datetime

from psycopg import AsyncConnection

_SAVE_CHECKPOINT = """
INSERT INTO alerts_checkpoints (topic_root, partitions, partition, judged_through, client_id)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (topic_root, partitions, partition) DO UPDATE
SET judged_through = EXCLUDED.judged_through, client_id = EXCLUDED.client_id,
    updated_at = now()
"""


async def save_checkpoint(
    conn: AsyncConnection,
    *,
    topic_root: str,
    partitions: int,
    partition: int,
    through: datetime,
    client_id: str,
) -> None:
    await conn.execute(_SAVE_CHECKPOINT, (topic_root, partitions, partition, through, client_id))


async def load_checkpoint(
    conn: AsyncConnection, *, topic_root: str, partitions: int, partition: int
) -> datetime | None:
    """This partition's checkpoint; after a change of the partition count the
    oldest of the fleet's (each old partition judged its devices that far)."""
    cur = await conn.execute(
        "SELECT judged_through FROM alerts_checkpoints"
        " WHERE topic_root = %s AND partitions = %s AND partition = %s",
        (topic_root, partitions, partition),
    )
    row = await cur.fetchone()
    if row is None:
        cur = await conn.execute(
            "SELECT min(judged_through) FROM alerts_checkpoints WHERE topic_root = %s",
            (topic_root,),
        )
        row = await cur.fetchone()
    return row[0] if row is not None else None
