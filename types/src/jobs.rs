//! The one life of a background job (re-pricing, deletion): queued → running → done | failed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a background job is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    #[default]
    Queued,
    Running,
    Done,
    Failed,
}

impl JobStatus {
    /// As stored and sent: `queued`, `running`, `done`, `failed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    /// Whether it has ended (the moment `finished_at` is set).
    pub const fn is_finished(self) -> bool {
        matches!(self, JobStatus::Done | JobStatus::Failed)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored status that is none of the four.
#[derive(Debug)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a job status", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

impl TryFrom<String> for JobStatus {
    type Error = UnknownStatus;

    fn try_from(s: String) -> Result<JobStatus, UnknownStatus> {
        [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Done,
            JobStatus::Failed,
        ]
        .into_iter()
        .find(|j| j.as_str() == s)
        .ok_or(UnknownStatus(s))
    }
}
