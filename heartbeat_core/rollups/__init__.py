"""Incremental daily rollups: `rollups/<id>.sql` declared in the project, stored as `rollups.<id>`."""
