//! Agent memory: live provider processes and their resident memory.

use anyhow::Result;

use crate::env::Env;

pub fn run_and_print(_env: &Env) -> Result<()> {
    Ok(())
}
