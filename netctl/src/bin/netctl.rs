//! `netctl`: the NOC command line. All the work is in [`isp_netctl::cli::run`].

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code =
        isp_netctl::cli::run(args, |k| std::env::var(k).ok(), &mut std::io::stdout(), &mut std::io::stderr()).await;
    std::process::exit(code);
}
