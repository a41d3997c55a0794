"""When an elevator's maintenance is overdue: the one definition that the
alerts sweep (``maintenance_overdue`` alerts) and ``/stats/maintenance-overdue``
both query, so an alert and the statistic never disagree about a lift.

At date D an in-service elevator's maintenance is due on its last visit on or
before D (its installation where none was recorded) plus its current interval
(``elevator_scores``; the default where unscored), and overdue when that is
before D. A visit dated after D (a record dated in the future) does not count
at D. Parameters: ``%(at)s`` (D) and ``%(default_days)s``.
"""

from __future__ import annotations

# Joined to ``elevators e``: its scores (s) and its last visit on or before D (m).
JOINS = """
  LEFT JOIN elevator_scores s ON s.elevator_id = e.elevator_id
  LEFT JOIN LATERAL (SELECT mr.done_on FROM maintenance_records mr
                      WHERE mr.elevator_id = e.elevator_id AND mr.done_on <= %(at)s
                      ORDER BY mr.done_on DESC LIMIT 1) m ON true
"""
INTERVAL_DAYS = "coalesce(s.interval_days, %(default_days)s)::int"
DUE_ON = f"(coalesce(m.done_on, e.installed_on) + {INTERVAL_DAYS})"
# The rows counted: in service (the sweep and the statistic add their own scope).
IN_SERVICE = "e.status = 'in_service'"
OVERDUE = f"{DUE_ON} < %(at)s"
