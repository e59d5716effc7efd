//! Regenerates `protocol/schema/baton.schema.json`: `cargo run -p baton-protocol --bin baton-schema`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(baton_protocol::schema::SCHEMA_PATH);
    match std::fs::write(&path, baton_protocol::schema::generate()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A tool run by a developer: stderr is the right place for its error.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("cannot write {}: {e}", path.display());
            }
            ExitCode::FAILURE
        }
    }
}
