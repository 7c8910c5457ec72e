"""Scale-out mode on PostgreSQL: stateless web replicas and `veilleur worker` processes.

- `queue.py`: the procrastinate App, its schema, and the intake hook that enqueues a job in
  the same transaction as the stored delivery.
- `tasks.py`: the jobs: one per delivery (locked by item), periodic jobs once per period,
  stalled-job reclaim and the orphan sweep.
- `worker.py`: the `veilleur worker` command.

The embedded SQLite mode (`veilleur serve`) does not import this package.
"""
