//! `mock-model [--port N]`: serves the mock model APIs until stdin closes or it is killed.
//! Prints `{"port":N}` on stdout once listening.

use std::process::ExitCode;

use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut port = 0u16;
    while let Some(a) = args.next() {
        if a == "--port" {
            port = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        }
    }
    let server = match mock_model::MockServer::start_on(port).await {
        Ok(s) => s,
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("mock-model: {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    #[allow(clippy::print_stdout)]
    {
        println!("{{\"port\":{}}}", server.port());
    }
    // Serve until whoever started us closes our stdin.
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    ExitCode::SUCCESS
}
