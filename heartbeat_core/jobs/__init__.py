"""Recompute jobs: the one single-flight refresh path that the CLI, cron, the scheduler, web and MCP share.

`runner.request_recompute(...)` starts (or joins) a job; `ledger` is what readers see of jobs
(`get_job`, `active_job`, `wait_for_job`) and the job vocabulary (`JobState`, `JobPhase`); `scheduler` runs
the schedules. The package imports nothing itself, so the read model can name job states without pulling in
the runner (which imports compute, ingest and alerts).
"""
