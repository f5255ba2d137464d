//! `--explain`: a plan as rows of (table, item, value, why), which reads in a terminal and
//! stays one row per fact in CSV and JSON.

use super::{Failure, render::Rendered};
use crate::{plan::plan_rows, proto};

pub(super) fn rows(plan: &proto::ExplainResponse) -> Result<Rendered, Failure> {
    let batch = plan_rows(std::slice::from_ref(plan))
        .map_err(|e| Failure::new(tonic::Code::Internal, format!("printing the plan: {e}")))?;
    Ok(Rendered {
        batch,
        notes: Vec::new(),
    })
}
