//! Stand-ins for task code that the benchmarks and examples share: the
//! cost they measure is the protocol's, not the task's.

use delta_engine::{
	io::{Datasets, MemberExecutor, StepSpec},
	EngineError, TaskId, TaskInfo, Values,
};

/// A member whose map returns the same values every round.
pub struct Constant(pub Values);

impl MemberExecutor for Constant {
	fn map(&mut self, _: TaskId, _: &StepSpec) -> Result<Vec<Values>, EngineError> {
		Ok(vec![self.0.clone()])
	}
}

/// A member holding whatever dataset a task asks for, with one row.
pub struct HoldsAny;

impl Datasets for HoldsAny {
	fn admit(&self, _: &TaskInfo, _: &str) -> Result<u64, EngineError> {
		Ok(1)
	}
}
