use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use awx_kpi::{check_command, demo, export, query_command, Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    // export's job cache defaults to the plugin's size, the other commands' to none.
    let cache_mb_given =
        matches.value_source("job_cache_mb") == Some(clap::parser::ValueSource::CommandLine);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    if let Command::Export(args) = &cli.command {
        // A server: it prints one line and must not hold stdout's lock while it runs.
        let code = export::export_command(&cli.conn, args, cache_mb_given).await;
        return ExitCode::from(code as u8);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match &cli.command {
        Command::Query(args) => query_command(&cli.conn, args, &mut out).await,
        Command::Check { format } => check_command(&cli.conn, *format, &mut out).await,
        Command::Export(_) => unreachable!("handled above"),
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
