//! `mirror man DIR` and `mirror completions SHELL`: generated from the clap definitions.

use crate::app::cli::Cli;
use crate::app::printer::Printer;

/// Write `mirror.1` and `mirror-<sub>.1` for every visible subcommand.
pub fn write_man_pages(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = vec![];
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    std::fs::write(dir.join("mirror.1"), examples_verbatim(&buf))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("mirror-{}", sub.get_name());
        let page = sub
            .clone()
            .display_name(name.clone())
            .bin_name(name.clone());
        let mut buf = vec![];
        clap_mangen::Man::new(page).render(&mut buf)?;
        std::fs::write(dir.join(format!("{name}.1")), examples_verbatim(&buf))?;
    }
    Ok(())
}

/// clap_mangen puts the `after_help` text (our "Examples:") under `.SH EXTRA` as filled text,
/// so `man` joins and justifies the example commands into a paragraph. Name the section
/// EXAMPLES and set it no-fill (`.nf` … `.fi`): one command per line, as in `--help`.
fn examples_verbatim(page: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(page);
    let Some(start) = text.find(".SH EXTRA\nExamples:\n") else {
        return page.to_vec();
    };
    let body_start = start + ".SH EXTRA\nExamples:\n".len();
    let body_end = text[body_start..]
        .find("\n.SH ")
        .map_or(text.len(), |i| body_start + i + 1);
    format!(
        "{}.SH EXAMPLES\n.nf\n{}.fi\n{}",
        &text[..start],
        &text[body_start..body_end],
        &text[body_end..]
    )
    .into_bytes()
}

/// Print shell completions for `shell` to stdout.
pub fn print_completions(shell: clap_complete::Shell, printer: Printer) {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = vec![];
    clap_complete::generate(shell, &mut cmd, "mirror", &mut buf);
    printer.out_bytes(&buf);
}
