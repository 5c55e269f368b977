//! Quoting for the generated TOML and YAML, and comment lines. Written by hand (no TOML or
//! YAML writer in the tree); the tests parse every generated file back with a TOML parser and
//! with serde-saphyr.

/// A TOML basic string: `"…"` with `\` and `"` escaped, and control characters as `\uXXXX`
/// (TOML 1.0, "Basic strings").
pub fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A YAML double-quoted scalar: `"…"` with `\` and `"` escaped and non-printable characters
/// as `\xXX`/`\uXXXX` (YAML 1.2, 5.7 "Escaped Characters"). Always quoted, so `127.0.0.1:5000`
/// or `on` never read as anything but strings.
pub fn yaml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` as comment lines (`# …`) at `indent`, one per line of `text`, each cut at spaces to
/// about 100 columns. Both TOML and YAML comments run from `#` to the end of the line, so
/// nothing inside can end them early.
pub fn comment(indent: &str, text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut current = String::new();
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            if !current.is_empty() && indent.len() + 2 + current.len() + 1 + word.len() > 100 {
                out.push_str(&format!("{indent}# {current}\n"));
                current.clear();
            }
            if !current.is_empty() {
                current.push(' ');
            }
            // A carriage return or other control character would end the line for some readers.
            current.extend(word.chars().map(|c| if c.is_control() { ' ' } else { c }));
        }
        if current.is_empty() {
            out.push_str(&format!("{indent}#\n"));
        } else {
            out.push_str(&format!("{indent}# {current}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(toml_str(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(toml_str("x\u{1}y"), r#""x\u0001y""#);
        assert_eq!(yaml_str(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(yaml_str("x\u{1}\u{2028}"), r#""x\x01\u2028""#);
    }

    #[test]
    fn comments_wrap_and_stay_comments() {
        let long = "word ".repeat(40);
        let c = comment("  ", &format!("first\n\n{long}\rend"));
        assert!(c.lines().all(|l| l.starts_with("  #")), "{c}");
        assert!(c.lines().all(|l| l.len() <= 102), "{c}");
        assert!(c.starts_with("  # first\n  #\n"));
    }
}
