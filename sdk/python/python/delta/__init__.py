"""Delta: federated statistics and learning. Data holders keep their raw
data; a task's `map` runs at each holder, only securely aggregated sums
leave them, and the requester's `reduce` turns the sums into results.

- `delta.Analytics`: write `execute(self, df)` as pandas code on a
  federated frame; get what pandas gives on the pooled data.
- `delta.MapReduce`: explicit steps (see `delta.mapreduce`); a step with
  `privacy=delta.Privacy(...)` is differentially private, its noise added
  by the members before masking.
- `delta.HorizontalLearning`: federated training of a PyTorch or NumPy
  model (`model`, `train`, `evaluate`); strategies in `delta.learning`
  (FedAvg, FedProx, FedAvgM, FedAdagrad, FedAdam, FedYogi); updates,
  example counts and metrics all securely summed; client-level
  differential privacy with `privacy=delta.Privacy(...)`.
- `delta.debug(task, data=...)`: run a task on local frames as the
  network runs it: packaged and checked as for `submit`, loaded by the
  holders' task runner, through the real engine (real round rules, real
  secure aggregation).
- `delta.package_task(cls)`: the task's source and manifest, statically
  checked and hashed, as it travels to data holders (never a pickle).
- `delta.Client(url, token)`: submit a task to a network through a
  worker's API; `TaskHandle.wait()` shows its progress and returns its
  result. `ClientError` says why a call to the API failed.
"""

from .analytics import Analytics, FederatedFrame, FederatedSeries, crosstab, logistic, ols
from .check import TaskRejected, Violation, check_source
from .client import Client, ClientError, TaskHandle
from .debug import TaskFailed, debug
from .images import read_image_folder
from .learning import HorizontalLearning, LearningResult
from .mapreduce import Done, MapReduce, Output, PolicyRefusal, Privacy, Step
from .package import PackageError, TaskPackage, load_package, package_task

__all__ = [
    "Analytics",
    "Client",
    "ClientError",
    "Done",
    "FederatedFrame",
    "FederatedSeries",
    "HorizontalLearning",
    "LearningResult",
    "MapReduce",
    "Output",
    "PackageError",
    "PolicyRefusal",
    "Privacy",
    "Step",
    "TaskFailed",
    "TaskHandle",
    "TaskPackage",
    "TaskRejected",
    "Violation",
    "check_source",
    "crosstab",
    "debug",
    "load_package",
    "logistic",
    "ols",
    "package_task",
    "read_image_folder",
]
__version__ = "0.1.0"
