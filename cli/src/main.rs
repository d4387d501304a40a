use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use awx_kpi::{check_command, demo, query_command, Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match &cli.command {
        Command::Query(args) => query_command(&cli.conn, args, &mut out).await,
        Command::Check { format } => check_command(&cli.conn, *format, &mut out).await,
        Command::Demo(args) => match demo::run_demo(args, &mut out).await {
            Ok(items) if items.iter().all(|i| i.result.is_ok()) => 0,
            Ok(_) => 1,
            Err(e) => {
                eprintln!("error: {e:#}");
                1
            }
        },
    };
    let _ = out.flush();
    ExitCode::from(code as u8)
}
