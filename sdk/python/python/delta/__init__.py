"""Delta: federated statistics and learning. Data holders keep their raw
data; a task's `map` runs at each holder, only securely aggregated sums
leave them, and the requester's `reduce` turns the sums into results.

- `delta.MapReduce`: explicit steps (see `delta.mapreduce`).
- `delta.debug(task, data=...)`: run a task on local frames through the
  real engine (real round rules, real secure aggregation).
"""

from .debug import TaskFailed, debug
from .mapreduce import Done, MapReduce, PolicyRefusal, Step

__all__ = ["Done", "MapReduce", "PolicyRefusal", "Step", "TaskFailed", "debug"]
__version__ = "0.1.0"
